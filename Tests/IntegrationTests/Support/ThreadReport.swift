import Foundation

/// What each thread of a process is doing, from `/proc`: for a daemon that stopped answering, it
/// tells a busy loop (state R, CPU time growing) from a thread waiting in the kernel (state S or
/// D, and where: `wchan`, the system call number).
enum ThreadReport {
    static func of(pid: Int32) -> String {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        guard !tasks.isEmpty else { return "process \(pid): no /proc entry (exited?)" }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var lines = ["threads of process \(pid) (name, state, CPU seconds, wchan, syscall):"]
        for task in tasks.sorted(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }) {
            let directory = "/proc/\(pid)/task/\(task)"
            func read(_ file: String) -> String {
                ((try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)) ?? "?")
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            // stat: "TID (comm) STATE ..." with utime and stime the 14th and 15th fields; comm may hold spaces.
            let stat = read("stat")
            let afterName = stat.range(of: ") ").map { String(stat[$0.upperBound...]) } ?? ""
            let fields = afterName.split(separator: " ")
            let state = fields.first.map(String.init) ?? "?"
            let cpu = fields.count > 12 ? ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks : 0
            let syscall = read("syscall").split(separator: " ").first.map(String.init) ?? "?"
            lines.append("  \(task) \(read("comm")) \(state) \(String(format: "%.2f", cpu))s \(read("wchan")) \(syscall)")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb"),
            let stacks = try? run("/usr/bin/timeout", ["60", "/usr/bin/gdb", "-p", "\(pid)", "-batch", "-ex", "thread apply all bt 30"])
        {
            // Every thread, the pool's included (gdb lists them last to first): bounded, not cut.
            lines.append("stacks (gdb):\n\(stacks.stdout.prefix(60000))")
        }
        return lines.joined(separator: "\n")
    }
}
