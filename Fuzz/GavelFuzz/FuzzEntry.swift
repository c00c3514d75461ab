import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// libFuzzer's entry point (https://llvm.org/docs/LibFuzzer.html): runs one input through the
/// target named by `GAVEL_FUZZ_TARGET`. A violated property aborts, which libFuzzer reports as
/// a crash and saves as `crash-…`. Always returns 0 (the input may be kept in the corpus).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}

#if !GAVEL_FUZZING
    /// Without `-DGAVEL_FUZZING` (a normal `swift build`) libFuzzer is not linked and this is the
    /// program: a replayer that runs saved inputs through the same property checks, so the seed
    /// corpus and every past finding are checked by the ordinary test suite.
    ///
    ///     gavel-fuzz --corpus DIR          every target over DIR/<target>/* (Fuzz/corpus)
    ///     gavel-fuzz TARGET FILE|DIR...    one target over the given inputs
    ///     gavel-fuzz --bench-json [SECONDS] JSON parse time against element count (`JSONBench`)
    ///
    /// Exit status 0 when every input satisfied its properties, 2 for a usage error; a violated
    /// property aborts (non-zero) after naming the input on stderr.
    @main
    struct FuzzReplay {
        static func main() {
            let args = Array(CommandLine.arguments.dropFirst())
            var runs: [(FuzzTarget, String)] = []
            if args.first == "--bench-json" && args.count <= 2 {
                JSONBench.run(budgetSeconds: args.count == 2 ? Double(args[1]) ?? 30 : 30)
                return
            }
            if args.count == 2 && args[0] == "--corpus" {
                for target in FuzzTarget.allCases {
                    runs += files(under: args[1] + "/" + target.rawValue).map { (target, $0) }
                }
            } else if args.count >= 2, let target = FuzzTarget(rawValue: args[0]) {
                for path in args.dropFirst() { runs += files(under: path).map { (target, $0) } }
            } else {
                FileHandle.standardError.write(
                    Data(
                        "usage: gavel-fuzz --corpus DIR | gavel-fuzz TARGET FILE|DIR... | gavel-fuzz --bench-json [SECONDS]\n  targets: \(FuzzTarget.names)\n"
                            .utf8))
                exit(2)
            }
            for (target, path) in runs {
                FileHandle.standardError.write(Data("\(target.rawValue) \(path)\n".utf8))
                let bytes = FileManager.default.contents(atPath: path).map { Array($0) } ?? []
                target.run(bytes)
            }
            print("gavel-fuzz: \(runs.count) inputs replayed, every property held")
        }

        /// The regular files at `path` (the file itself, or a directory's files sorted by name).
        static func files(under path: String) -> [String] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
            guard isDirectory.boolValue else { return [path] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
        }
    }
#endif
