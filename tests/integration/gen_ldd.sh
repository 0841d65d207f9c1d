#!/usr/bin/env bash
# gen --list agrees with ldd on every dynamically linked ELF file of this machine.
# suite: host
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 "$(dirname "$0")/gen_ldd_agreement.py" "$COMPAT" /usr/bin /usr/sbin /usr/lib
