/* The Greeting framework's interface, shared by the app, its helper and its plug-in. */
#ifndef GREETING_H
#define GREETING_H

#ifdef __cplusplus
extern "C" {
#endif

const char *greeting_text(void);
int greeting_count(const char *who);

#ifdef __cplusplus
}
#endif

#endif
