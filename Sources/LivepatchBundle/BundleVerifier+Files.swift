import Crypto
import LivepatchCore
import LivepatchSystem

#if canImport(Glibc)
import Glibc
#endif

extension BundleVerifier {
    /// A bundle file that could not be used, sorted into what the verifier does next.
    enum FileFailure: Error {
        case missing
        case tooLarge(file: String, size: Int64, limit: Int64)
        case rejected(RejectionReason)
    }

    func path(_ file: String) -> String { "\(patchDirectory)/\(file)" }

    func read(_ file: String, limit: Int64) -> Result<[UInt8], FileFailure> {
        Result { () throws(FileFailure) in
            do throws(SafeFileError) {
                return try SafeFile.read(path: path(file), limit: limit)
            } catch {
                throw Self.sort(error, file: file)
            }
        }
    }

    /// Whether something (anything, even a dangling symlink) has that name in the patch directory.
    func exists(_ file: String) -> Bool {
        var status = stat()
        return lstat(path(file), &status) == 0
    }

    /// Opens the module and hashes every byte of it, never more than `max_module_size`.
    func hashModule(_ manifest: Manifest) -> Result<(SafeFile, String), FileFailure> {
        Result { () throws(FileFailure) in
            do throws(SafeFileError) {
                let module = try SafeFile(path: path(manifest.module))
                try module.checkSize(limit: policy.maxModuleSize)
                var hasher = SHA256()
                try module.readChunks(limit: policy.maxModuleSize) { chunk in hasher.update(bufferPointer: chunk) }
                return (module, hexDigest(hasher.finalize()))
            } catch {
                throw Self.sort(error, file: manifest.module)
            }
        }
    }

    func checkModuleInfo(_ stagedPath: String, manifest: Manifest) -> Result<ModuleInfo, RejectionReason> {
        let info: ModuleInfo
        do {
            info = try ModuleInfo.read(path: stagedPath)
        } catch {
            return .failure(.unreadableModule(module: manifest.module, detail: Self.modinfoProblem(error)))
        }
        guard info.isLivepatch else { return .failure(.notLivepatch(module: manifest.module)) }
        guard let moduleName = info.name else {
            return .failure(.unreadableModule(module: manifest.module, detail: "its modinfo has no name"))
        }
        guard moduleName == manifest.name else {
            return .failure(.nameMismatch(manifest: manifest.name, module: moduleName))
        }
        guard let release = info.vermagicRelease else {
            return .failure(.unreadableModule(module: manifest.module, detail: "its modinfo has no vermagic"))
        }
        guard manifest.kernels.contains(release) else {
            return .failure(.wrongKernel(release: release, kernels: manifest.kernels))
        }
        return .success(info)
    }

    /// libkmod's errno in words: it reports a file that is not ELF (or is cut short) as EINVAL
    /// and an ELF file without a `.modinfo` section as ENOENT, which strerror would turn into a
    /// misleading "No such file or directory" for a file that is right there.
    static func modinfoProblem(_ error: SystemError) -> String {
        switch (error.operation, error.errno) {
        case ("kmod_module_get_info", ENOENT): "an ELF file without a .modinfo section"
        case ("kmod_module_get_info", EINVAL), (_, ENOEXEC): "not an ELF module with a .modinfo section (or cut short)"
        default: error.description
        }
    }

    private static func sort(_ error: SafeFileError, file: String) -> FileFailure {
        switch error {
        case .missing: .missing
        case .symlink: .rejected(.unsafeFile(file: file, kind: .symlink))
        case .notRegular(_, let kind): .rejected(.unsafeFile(file: file, kind: UnsafeFileKind(kind)))
        case .tooLarge(_, let size, let limit): .tooLarge(file: file, size: size, limit: limit)
        case .system(let error): .rejected(.unreadableFile(file: file, detail: error.description))
        }
    }
}

extension UnsafeFileKind {
    init(_ kind: FileKind) {
        switch kind {
        case .symlink: self = .symlink
        case .fifo: self = .fifo
        case .characterDevice: self = .characterDevice
        case .blockDevice: self = .blockDevice
        case .directory: self = .directory
        case .socket: self = .socket
        case .regular, .unknown: self = .unknown
        }
    }
}
