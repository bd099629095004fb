"""schemathesis hooks for tests/security/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

The fuzzer may revoke any token it finds, its own included, and every later call would
then be a 401 that tests nothing: a revocation of its own token goes to a spare one."""

import os

import schemathesis


def spare_own_token(case, own_token_id: int, spare_token_id: int) -> None:
    parameters = case.path_parameters or {}
    if str(parameters.get("token_id")) == str(own_token_id) and case.method.upper() == "POST":
        parameters["token_id"] = spare_token_id


# Registered in the schemathesis process only: the pytest process imports
# spare_own_token, and a hook there would apply to its own fuzz test too.
if "FUZZ_OWN_TOKEN_ID" in os.environ:

    @schemathesis.hook
    def before_call(context, case, kwargs) -> None:
        own, spare = os.environ["FUZZ_OWN_TOKEN_ID"], os.environ["FUZZ_SPARE_TOKEN_ID"]
        spare_own_token(case, int(own), int(spare))
