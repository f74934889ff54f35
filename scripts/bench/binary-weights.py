#!/usr/bin/env python3
"""What each dependency weighs in a static Swift binary, for `make bench` (issue 12).

    binary-weights.py BUILD_DIR BINARY... [--json FILE]

Each symbol the (unstripped) binary defines is attributed to the library whose object files
define it: the Swift toolchain's static archives (swift_static/linux/*.a), and the object files
SwiftPM built in BUILD_DIR (one folder per target, its package found under checkouts/). What
strip keeps but no symbol covers (relocations, unwind tables, Swift metadata sections, the
dynamic symbol table) is reported as a section total. Symbols defined in several places count
once, for the first; the sums are close, not exact.
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWIFT_STATIC = os.path.join(
    os.path.dirname(os.path.dirname(os.path.realpath(subprocess.run(
        ["sh", "-c", "command -v swift"], capture_output=True, text=True).stdout.strip()))),
    "lib", "swift_static", "linux")

# Toolchain archives, by what an operator would call them.
ARCHIVES = {
    "libswiftCore.a": "Swift standard library",
    "libswift_Concurrency.a": "Swift concurrency",
    "libswift_StringProcessing.a": "Swift standard library",
    "libswift_RegexParser.a": "Swift standard library",
    "libswiftSynchronization.a": "Swift standard library",
    "libswiftGlibc.a": "Swift standard library",
    "libswiftDispatch.a": "Dispatch",
    "libdispatch.a": "Dispatch",
    "libBlocksRuntime.a": "Dispatch",
    "libFoundationEssentials.a": "FoundationEssentials",
    "lib_FoundationCShims.a": "FoundationEssentials",
    "lib_FoundationCollections.a": "FoundationEssentials",
    "libFoundationInternationalization.a": "Foundation (ICU: FoundationInternationalization, _FoundationICU)",
    "lib_FoundationICU.a": "Foundation (ICU: FoundationInternationalization, _FoundationICU)",
    "libFoundation.a": "Foundation (swift-corelibs: Foundation, CoreFoundation)",
    "libCoreFoundation.a": "Foundation (swift-corelibs: Foundation, CoreFoundation)",
    "libFoundationNetworking.a": "FoundationNetworking",
    "libFoundationXML.a": "FoundationXML",
}


# address, size, type, name (a name may hold spaces); symbols without a size have no second field.
SYMBOL = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) \w (.+)$")


def defined_symbols(path):
    """(name, size) of every defined symbol with a size."""
    out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        match = SYMBOL.match(line)
        if match:
            yield match.group(3), int(match.group(2), 16)


def owners(build_dir):
    """Symbol name -> library, from the toolchain's archives and SwiftPM's object files."""
    owner = {}
    for archive, library in ARCHIVES.items():
        path = os.path.join(SWIFT_STATIC, archive)
        if os.path.exists(path):
            for name, _ in defined_symbols(path):
                owner.setdefault(name, library)
    checkouts = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(build_dir))), "checkouts")
    packages = {}
    if os.path.isdir(checkouts):
        for package in os.listdir(checkouts):
            sources = os.path.join(checkouts, package, "Sources")
            if os.path.isdir(sources):
                for target in os.listdir(sources):
                    packages[target] = package
    own = set(os.listdir(os.path.join(REPO, "Sources")))
    for entry in os.listdir(build_dir):
        if not entry.endswith(".build"):
            continue
        target = entry[: -len(".build")]
        if target in packages:
            library = f"{packages[target]} ({target})"
        elif target in own:
            library = f"livepatchd ({target})"
        else:
            library = f"a dependency ({target})"
        folder = os.path.join(build_dir, entry)
        for root, _, files in os.walk(folder):
            for file in files:
                if file.endswith(".o"):
                    for name, _ in defined_symbols(os.path.join(root, file)):
                        owner.setdefault(name, library)
    return owner


def swift_module(name):
    """The module a Swift symbol's mangled name starts with: $s7NIOCore... -> NIOCore."""
    match = re.match(r"\$s(\d+)", name)
    if not match:
        return None
    length = int(match.group(1))
    start = match.end()
    return name[start:start + length]


def section_sizes(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout
    sizes = {}
    for line in out.splitlines():
        match = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if match:
            sizes[match.group(1)] = int(match.group(2), 16)
    return sizes


def weigh(binary, owner):
    weights = defaultdict(int)
    for name, size in defined_symbols(binary):
        library = owner.get(name)
        if library is None:
            module = swift_module(name)
            library = f"{module} (by symbol name)" if module else "unattributed symbols (C runtime, linker)"
        weights[library] += size
    sections = section_sizes(binary)
    # Kept by strip, covered by no symbol: what a reader should know is there.
    for section in [".dynsym", ".dynstr", ".rela.dyn", ".eh_frame", ".eh_frame_hdr", ".gcc_except_table"]:
        if sections.get(section):
            weights[f"section {section}"] += sections[section]
    swift_metadata = sum(size for name, size in sections.items() if name.startswith("swift5_"))
    if swift_metadata:
        weights["sections swift5_* (metadata)"] += swift_metadata
    return dict(weights)


def main():
    args = sys.argv[1:]
    json_out = None
    if "--json" in args:
        index = args.index("--json")
        json_out = args[index + 1]
        del args[index:index + 2]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    build_dir, binaries = args[0], args[1:]
    owner = owners(build_dir)
    result = {}
    for binary in binaries:
        weights = weigh(binary, owner)
        result[os.path.basename(binary)] = weights
        total = sum(weights.values())
        print(f"{os.path.basename(binary)}: {total / 1e6:.1f} MB attributed")
        for library, size in sorted(weights.items(), key=lambda item: -item[1]):
            if size >= 100_000:
                print(f"  {size / 1e6:6.1f} MB  {library}")
    if json_out:
        with open(json_out, "w") as file:
            json.dump(result, file, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
