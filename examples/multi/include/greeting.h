/* The Greeting framework's interface, shared by the app, its helper and its plug-in. */
#ifndef GREETING_H
#define GREETING_H

const char *greeting_text(void);
int greeting_count(const char *who);

#endif
