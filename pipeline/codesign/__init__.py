"""Apple code signatures in Mach-O files and bundles, in pure Python.

``blobs`` (SuperBlob, CodeDirectory, requirements and entitlements blobs),
``requirements`` (the requirement language, binary and text), ``cms`` (the
CMS signature), ``coderesources`` (the bundle seal), ``bundle`` (what a
bundle's parts are), ``allocate`` (room for the signature, as Apple's
codesign_allocate makes it), ``adhoc`` (ld64.lld-identical ad-hoc
signatures), ``sign`` (the portable signer), ``detach``/``apply`` (the
detached-signature workflow) and ``verify``.  Nothing here knows about
doit, build policy or the command line: times come in as arguments.
"""

from .adhoc import adhoc_sign_file
from .apply import apply
from .detach import detach, signature_members
from .sign import Identity, sign_app, sign_file
from .summary import SignatureSummary, summarise_signature
from .verify import FileReport, SliceReport, VerifyReport, verify_path

__all__ = ["FileReport", "Identity", "SignatureSummary", "SliceReport", "VerifyReport",
           "adhoc_sign_file", "apply", "detach", "sign_app", "sign_file", "signature_members",
           "summarise_signature", "verify_path"]
