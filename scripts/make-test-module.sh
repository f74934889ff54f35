#!/bin/sh
# Synthesizes a real ELF relocatable object with a .modinfo section, the part of a
# kernel module that libkmod and modinfo(8) read. It cannot be loaded into a kernel
# (no .gnu.linkonce.this_module, no relocations for init), which is the point: test
# fixtures for verification and the simulated kernel, built in milliseconds with gcc.
#
#   make-test-module.sh --out FILE.ko --name NAME --release REL
#                       [--no-livepatch] [--replace] [--functions vmlinux:f1,vmlinux:f2] [--license GPL]
#                       [--no-name] [--no-vermagic] [--no-modinfo]
#
# The --no-* flags leave out a modinfo key (or the whole .modinfo section) for the
# hostile-input corpus: modules a verifier must refuse.
set -eu

usage() {
    echo "usage: $0 --out FILE.ko --name NAME --release REL [--no-livepatch] [--replace] [--functions OBJ:FN,...] [--license LIC] [--no-name] [--no-vermagic] [--no-modinfo]" >&2
    exit 64
}

out= name= release= livepatch=Y replace= functions= license=GPL with_name=Y with_vermagic=Y with_modinfo=Y
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2-}; shift 2 || usage ;;
        --name) name=${2-}; shift 2 || usage ;;
        --release) release=${2-}; shift 2 || usage ;;
        --no-livepatch) livepatch=; shift ;;
        --replace) replace=Y; shift ;;
        --functions) functions=${2-}; shift 2 || usage ;;
        --license) license=${2-}; shift 2 || usage ;;
        --no-name) with_name=; shift ;;
        --no-vermagic) with_vermagic=; shift ;;
        --no-modinfo) with_modinfo=; shift ;;
        -h|--help) usage ;;
        *) echo "$0: unknown argument: $1" >&2; usage ;;
    esac
done
[ -n "$out" ] && [ -n "$name" ] && [ -n "$release" ] || usage

# Values end up inside C string literals: refuse what would need escaping rather than escape it.
for value in "$name" "$release" "$functions" "$license"; do
    case "$value" in
        *'"'*|*'\'*) echo "$0: quotes and backslashes are not supported in values: $value" >&2; exit 64 ;;
    esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

entry=0
modinfo() {
    [ -n "$with_modinfo" ] || return 0
    entry=$((entry + 1))
    printf 'static const char lp_modinfo_%d[] __attribute__((section(".modinfo"), used, aligned(1))) = "%s";\n' \
        "$entry" "$1" >> "$work/module.c"
}

: > "$work/module.c"
modinfo "license=$license"
[ -n "$livepatch" ] && modinfo "livepatch=Y"
[ -n "$functions" ] && modinfo "livepatchd_sim_functions=$functions"
# A cumulative patch (klp_patch.replace); the simulated kernel cannot read the klp_patch itself.
[ -n "$replace" ] && modinfo "livepatchd_sim_replace=Y"
[ -n "$with_name" ] && modinfo "name=$name"
# The kernel's format: release, then feature words, with a trailing space.
[ -n "$with_vermagic" ] && modinfo "vermagic=$release SMP preempt mod_unload modversions "
cat >> "$work/module.c" <<'C'
int livepatch_fixture_init(void) { return 0; }
C

gcc -c -O2 -fno-asynchronous-unwind-tables -o "$work/module.o" "$work/module.c"
mv -f "$work/module.o" "$out"
