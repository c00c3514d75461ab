import Foundation

/// A fresh directory under the system temporary directory, removed with everything in it
/// when the value is released.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "gavel-dispatch-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes an executable script (mode 0755) and returns its absolute path.
    ///
    /// Written through a descriptor opened `O_CLOEXEC`: tests run in parallel, and a process
    /// another test spawns while this descriptor is open would otherwise keep it open for
    /// writing across its `exec` — and executing the script would then fail with `ETXTBSY`
    /// ("Text file busy") for as long as that process runs.
    public func script(_ name: String, _ text: String) throws -> String {
        let scriptPath = file(name)
        let fd = open(scriptPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let closed = close(fd)
        guard written == bytes.count, closed == 0 else { throw POSIXError(.EIO) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scriptPath)
        return scriptPath
    }

    public func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

    public func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: file(name)))) }
}
