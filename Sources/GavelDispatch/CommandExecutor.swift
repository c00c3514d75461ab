import GavelCore
import Glibc

/// Runs a command action: `posix_spawn(3)` of `argv[0]` with `argv` exactly as given, never
/// through a shell, so a target such as `$(touch x)` or `a; rm -rf /` stays one inert argument
/// (hardening checklist D2).
///
/// The child gets a process group of its own (`POSIX_SPAWN_SETPGROUP`, pgid = its pid), stdin
/// from `/dev/null`, stdout and stderr into one pipe, no other inherited descriptors, default
/// signal dispositions, an empty signal mask and a minimal environment:
/// `PATH=/usr/bin:/bin` and `GAVEL_IDEMPOTENCY_KEY=<key>`. Output is read as it comes: the first
/// 64 KiB are kept (4096 bytes become the excerpt), the rest is read and dropped so the child
/// never blocks on a full pipe. At the deadline the whole process group is killed with
/// `SIGKILL` and the child reaped (checklist D4). When the child exits on its own, anything it
/// left running in its process group is killed as well, so no stray process outlives a dispatch.
public struct CommandExecutor: Sendable {
    /// Creates a command executor.
    public init() {}

    /// Runs the command and waits for it, at most `request.timeoutSeconds`.
    /// - Returns: `.success` (status 0) on exit 0; `.retryable` with the exit status and
    ///   `"exit N"` on a non-zero exit, `"killed by signal N"`, or `"timeout after N s"`
    ///   (the action's `maxRetries` decides whether it is retried); `.permanent` when `argv` is
    ///   empty, `argv[0]` is not an absolute path, an argument or the key contains NUL, the
    ///   timeout is not a positive number, or the program cannot be executed (`ENOENT`,
    ///   `EACCES`, `ENOEXEC`…).
    public func execute(_ request: CommandDispatchRequest, idempotencyKey: String) -> DispatchOutcome {
        let watch = Stopwatch()
        func refuse(_ reason: String) -> DispatchOutcome {
            DispatchOutcome(kind: .permanent, error: reason, durationMs: watch.elapsedMs)
        }
        guard let program = request.argv.first else { return refuse("empty argv") }
        guard program.hasPrefix("/") else { return refuse("program path is not absolute: \(program)") }
        guard !request.argv.contains(where: { $0.utf8.contains(0) }) else { return refuse("argument contains NUL") }
        guard !idempotencyKey.utf8.contains(0) else { return refuse("idempotency key contains NUL") }
        guard request.timeoutSeconds.isFinite, request.timeoutSeconds > 0 else {
            return refuse("timeout must be a positive number of seconds")
        }
        let environment = ["PATH=/usr/bin:/bin", "GAVEL_IDEMPOTENCY_KEY=\(idempotencyKey)"]

        let child: SpawnedChild
        switch SpawnedChild.spawn(argv: request.argv, environment: environment) {
        case .success(let spawned): child = spawned
        case .failure(let failure):
            let kind: DispatchOutcome.Kind = failure.isPermanent ? .permanent : .retryable
            return DispatchOutcome(kind: kind, error: failure.description, durationMs: watch.elapsedMs)
        }
        let ended = child.wait(timeoutSeconds: request.timeoutSeconds)
        let excerpt = ended.output.excerpt
        let ms = watch.elapsedMs
        switch ended.termination {
        case .timedOut:
            return DispatchOutcome(
                kind: .retryable, error: "timeout after \(formatSeconds(request.timeoutSeconds)) s",
                responseExcerpt: excerpt, durationMs: ms)
        case .exited(0):
            return DispatchOutcome(kind: .success, status: 0, responseExcerpt: excerpt, durationMs: ms)
        case .exited(let code):
            return DispatchOutcome(
                kind: .retryable, status: Int(code), error: "exit \(code)",
                responseExcerpt: excerpt, durationMs: ms)
        case .signaled(let signal):
            return DispatchOutcome(
                kind: .retryable, error: "killed by signal \(signal)",
                responseExcerpt: excerpt, durationMs: ms)
        case .unknown:
            return DispatchOutcome(
                kind: .retryable, error: "exit status unknown (the process was reaped elsewhere)",
                responseExcerpt: excerpt, durationMs: ms)
        }
    }
}
