// Turns the load generator's JSON lines into benchmarks/results/<date>.md and PNG charts (via gnuplot).
// Usage: Report <results.jsonl> <report.md> <chart-dir>
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Report <results.jsonl> <report.md> <chart-dir>");
    return 2;
}

var runs = File.ReadAllLines(args[0])
    .Where(l => l.Trim().Length > 0)
    .Select(l => JsonDocument.Parse(l).RootElement.Clone())
    .ToList();
var report = new ReportWriter(runs, Path.GetFileNameWithoutExtension(args[1]));
File.WriteAllText(args[1], report.Markdown(args[2]));
report.Charts(args[2]);
Console.WriteLine($"Wrote {args[1]}");
return 0;

internal sealed class ReportWriter(List<JsonElement> runs, string tag)
{
    private static readonly string[] s_targets = ["library", "kestrel", "signalr"];
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    private readonly List<(string Label, string Metric, double Library, double Kestrel, double SignalR)> _chartRows = [];

    public string Markdown(string chartDir)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Benchmark results {tag}");
        md.AppendLine();
        md.AppendLine($"{runs.Count} runs. Each cell is the median over repeats, with min–max. Ratios compare medians from this run against raw Kestrel (the anchor). Server CPU is read from /proc/<pid>/stat, so it excludes the load generator; the load generator shares the machine's 2 cores with the server.");
        md.AppendLine();
        md.AppendLine($"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}.");
        md.AppendLine();

        var checks = new List<string>();
        foreach (var connections in Distinct("echo", "connections"))
        {
            Throughput(md, $"Echo, {connections} connections, 64 B, one message in flight", "echo", connections, checks);
        }

        EventsSection(md, checks);
        foreach (var connections in Distinct("fanout", "connections"))
        {
            Throughput(md, $"Fan-out to {connections} subscribers, 100 × 256 B", "fanout", connections, checks);
        }

        IdleSection(md, checks);
        ScaleSection(md, checks);
        ClusterSection(md, checks);

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | met |");
        md.AppendLine("| --- | --- | --- |");
        foreach (var check in checks)
        {
            md.AppendLine(check);
        }

        if (_chartRows.Count == 0)
        {
            return md.ToString(); // a scale-only run has nothing to chart
        }

        md.AppendLine();
        md.AppendLine("## Charts");
        md.AppendLine();
        md.AppendLine($"![throughput]({tag}-throughput.png)");
        md.AppendLine();
        md.AppendLine($"![cpu]({tag}-cpu.png)");
        md.AppendLine();
        md.AppendLine($"![memory]({tag}-memory.png)");
        return md.ToString();
    }

    private IEnumerable<int> Distinct(string scenario, string field)
        => runs.Where(r => Str(r, "scenario") == scenario).Select(r => (int)Num(r, field)).Distinct().Order();

    private List<JsonElement> Select(string scenario, string target, int? connections = null)
        => runs.Where(r => Str(r, "scenario") == scenario && Str(r, "target") == target && (connections is null || (int)Num(r, "connections") == connections)).ToList();

    private void Throughput(StringBuilder md, string title, string scenario, int connections, List<string> checks)
    {
        md.AppendLine($"## {title}");
        md.AppendLine();
        md.AppendLine("| server | msgs/s | × Kestrel | server CPU µs/msg | × Kestrel | p50 µs | p99 µs | p99.9 µs |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        var kestrel = Select(scenario, "kestrel", connections);
        var kRate = Median(kestrel, "msgs_per_sec");
        var kCpu = Median(kestrel, "server_cpu_us_per_msg");
        var rates = new Dictionary<string, double>();
        var cpus = new Dictionary<string, double>();
        foreach (var target in s_targets)
        {
            var rows = Select(scenario, target, connections);
            if (rows.Count == 0)
            {
                continue;
            }

            var rate = Median(rows, "msgs_per_sec");
            var cpu = Median(rows, "server_cpu_us_per_msg");
            rates[target] = rate;
            cpus[target] = cpu;
            md.AppendLine($"| {target} | {Cell(rows, "msgs_per_sec", 0)} | {Ratio(rate, kRate)} | {Cell(rows, "server_cpu_us_per_msg", 2)} | {Ratio(cpu, kCpu)} | {Cell(rows, "p50_us", 0)} | {Cell(rows, "p99_us", 0)} | {Cell(rows, "p999_us", 0)} |");
        }

        md.AppendLine();
        var label = scenario == "echo" ? $"echo {connections}" : $"fan-out {connections}";
        _chartRows.Add((label, "throughput", rates.GetValueOrDefault("library"), rates.GetValueOrDefault("kestrel"), rates.GetValueOrDefault("signalr")));
        _chartRows.Add((label, "cpu", cpus.GetValueOrDefault("library"), cpus.GetValueOrDefault("kestrel"), cpus.GetValueOrDefault("signalr")));
        if (rates.TryGetValue("library", out var libRate) && kRate > 0)
        {
            var (minRate, maxCpu) = scenario == "echo" ? (0.95, 1.10) : (1.0, 1.0);
            checks.Add(Check($"{label}: msgs/s ≥ {minRate:0.00}× Kestrel", libRate / kRate, minRate, atLeast: true));
            checks.Add(Check($"{label}: CPU/msg ≤ {maxCpu:0.00}× Kestrel", cpus["library"] / kCpu, maxCpu, atLeast: false));
        }
    }

    private void EventsSection(StringBuilder md, List<string> checks)
    {
        var events = Select("events", "library");
        if (events.Count == 0)
        {
            return;
        }

        var connections = (int)Num(events[0], "connections");
        md.AppendLine($"## Events request/reply echo, {connections} connections, 64 B");
        md.AppendLine();
        md.AppendLine("The library's event protocol (`{\"event\":\"echo\",\"data\":…,\"id\":n}` → `{\"reply\":n,…}`) against raw Kestrel's echo and SignalR's `Echo` invocation at the same connection count.");
        md.AppendLine();
        md.AppendLine("| server | msgs/s | × Kestrel | server CPU µs/msg | × Kestrel | × SignalR | p50 µs | p99 µs |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        var kestrel = Select("echo", "kestrel", connections);
        var signalr = Select("echo", "signalr", connections);
        var kRate = Median(kestrel, "msgs_per_sec");
        var kCpu = Median(kestrel, "server_cpu_us_per_msg");
        var sCpu = Median(signalr, "server_cpu_us_per_msg");
        var rate = Median(events, "msgs_per_sec");
        var cpu = Median(events, "server_cpu_us_per_msg");
        md.AppendLine($"| library events | {Cell(events, "msgs_per_sec", 0)} | {Ratio(rate, kRate)} | {Cell(events, "server_cpu_us_per_msg", 2)} | {Ratio(cpu, kCpu)} | {Ratio(cpu, sCpu)} | {Cell(events, "p50_us", 0)} | {Cell(events, "p99_us", 0)} |");
        md.AppendLine($"| SignalR Echo | {Cell(signalr, "msgs_per_sec", 0)} | {Ratio(Median(signalr, "msgs_per_sec"), kRate)} | {Cell(signalr, "server_cpu_us_per_msg", 2)} | {Ratio(sCpu, kCpu)} | 1.00 | {Cell(signalr, "p50_us", 0)} | {Cell(signalr, "p99_us", 0)} |");
        md.AppendLine();
        _chartRows.Add(($"events {connections}", "throughput", rate, kRate, Median(signalr, "msgs_per_sec")));
        _chartRows.Add(($"events {connections}", "cpu", cpu, kCpu, sCpu));
        if (kRate > 0)
        {
            checks.Add(Check($"events echo: msgs/s ≥ 0.90× Kestrel raw echo", rate / kRate, 0.90, atLeast: true));
            checks.Add(Check($"events echo: CPU/msg ≤ 1.15× Kestrel raw echo", cpu / kCpu, 1.15, atLeast: false));
        }
    }

    private void IdleSection(StringBuilder md, List<string> checks)
    {
        if (!runs.Any(r => Str(r, "scenario") == "idle"))
        {
            return;
        }

        md.AppendLine("## Idle memory per connection");
        md.AppendLine();
        md.AppendLine("Least-squares slope of server RSS over the number of idle connections.");
        md.AppendLine();
        md.AppendLine("| server | connections | KiB per connection | × Kestrel |");
        md.AppendLine("| --- | --- | --- | --- |");
        var kestrel = Median(Select("idle", "kestrel"), "kib_per_conn");
        var values = new Dictionary<string, double>();
        foreach (var target in s_targets)
        {
            var rows = Select("idle", target);
            if (rows.Count == 0)
            {
                continue;
            }

            values[target] = Median(rows, "kib_per_conn");
            md.AppendLine($"| {target} | {(int)Num(rows[0], "connections")} | {Cell(rows, "kib_per_conn", 1)} | {Ratio(values[target], kestrel)} |");
        }

        md.AppendLine();
        _chartRows.Add(("idle KiB/conn", "memory", values.GetValueOrDefault("library"), values.GetValueOrDefault("kestrel"), values.GetValueOrDefault("signalr")));
        if (values.TryGetValue("library", out var library) && kestrel > 0)
        {
            checks.Add(Check("idle memory ≤ 1.10× Kestrel per connection", library / kestrel, 1.10, atLeast: false));
        }
    }

    private void ScaleSection(StringBuilder md, List<string> checks)
    {
        var scale = runs.Where(r => Str(r, "scenario") == "scale").ToList();
        if (scale.Count == 0)
        {
            return;
        }

        md.AppendLine("## Scale: one server process");
        md.AppendLine();
        md.AppendLine("Clients spread over two load-generator processes and 116 source addresses (127.0.0.2–127.0.0.117). "
            + "Each broadcast is one 64 B message to every connection, timed from just before the request to the last receipt "
            + "in either generator; the median of the timed broadcasts is shown, with all of them. Older results have one "
            + "library broadcast only.");
        md.AppendLine();
        md.AppendLine("| server | connections held | server RSS MiB | one broadcast reaches all (ms, median) | × Kestrel | µs per recipient | each broadcast (ms) |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        var kestrelScale = scale.FirstOrDefault(r => Str(r, "target") == "kestrel");
        foreach (var r in scale)
        {
            var target = Str(r, "target") is { Length: > 0 } t ? t : "library";
            var ms = Num(r, "broadcast_all_received_ms");
            var ratio = kestrelScale.ValueKind == JsonValueKind.Object ? (ms / Num(kestrelScale, "broadcast_all_received_ms")).ToString("0.00", s_inv) : "–";
            var each = r.TryGetProperty("broadcast_ms_all", out var all) ? string.Join(", ", all.EnumerateArray().Select(static e => e.GetDouble().ToString("0", s_inv))) : "";
            var perRecipient = ms * 1000 / Num(r, "connections_held");
            md.AppendLine($"| {target} | {Num(r, "connections_held"):0} | {Num(r, "server_rss_kib") / 1024:0} | {ms:0} | {ratio} | {perRecipient:0.0} | {each} |");
        }

        md.AppendLine();
        var held = scale.Where(r => Str(r, "target") is "" or "library").Select(r => Num(r, "connections_held")).DefaultIfEmpty(0).Max();
        checks.Add($"| scale: ≥ 19 000 connections in one process | {held:0} | {(held >= 19000 ? "yes" : "**no**")} |");
    }

    private void ClusterSection(StringBuilder md, List<string> checks)
    {
        var cluster = runs.Where(r => Str(r, "scenario") == "cluster").ToList();
        if (cluster.Count == 0)
        {
            return;
        }

        md.AppendLine("## Scale: a cluster over Redis");
        md.AppendLine();
        md.AppendLine("Library servers sharing one redis-server through the Redis backplane, one hold load generator per server "
            + "(`benchmarks/cluster`). One broadcast is sent through server 1: its own subscribers get it directly, every other "
            + "server's through Redis. Time runs from the broadcast's start on server 1 to the last receipt in any generator; "
            + "the median of the timed broadcasts is shown, with all of them.");
        md.AppendLine();
        md.AppendLine("| servers | connections held | servers' RSS MiB | redis RSS MiB | one broadcast reaches all (ms, median) | each broadcast (ms) |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var r in cluster)
        {
            var each = r.TryGetProperty("broadcast_ms_all", out var all) ? string.Join(", ", all.EnumerateArray().Select(static e => e.GetDouble().ToString("0", s_inv))) : "";
            md.AppendLine($"| {Num(r, "servers"):0} | {Num(r, "connections_held"):0} | {Num(r, "servers_rss_kib") / 1024:0} | {Num(r, "redis_rss_kib") / 1024:0} | {Num(r, "broadcast_all_received_ms"):0} | {each} |");
        }

        md.AppendLine();
        var best = cluster.MaxBy(r => Num(r, "connections_held"))!;
        var held = Num(best, "connections_held");
        var ms = Num(best, "broadcast_all_received_ms");
        checks.Add($"| cluster: ≥ 100 000 connections over 6 servers | {held:0} | {(held >= 100_000 ? "yes" : "**no**")} |");
        checks.Add($"| cluster: one broadcast reaches all in < 1 s | {ms:0} ms | {(ms < 1000 ? "yes" : "**no**")} |");
    }

    private static string Check(string what, double ratio, double bound, bool atLeast)
    {
        var met = double.IsFinite(ratio) && (atLeast ? ratio >= bound : ratio <= bound);
        return $"| {what} | {ratio.ToString("0.00", s_inv)}× | {(met ? "yes" : "**no**")} |";
    }

    public void Charts(string dir)
    {
        Directory.CreateDirectory(dir);
        Chart(dir, "throughput", "messages per second (median, log scale)", logScale: true);
        Chart(dir, "cpu", "server CPU µs per message (median)");
        Chart(dir, "memory", "KiB per idle connection (median)");
    }

    private void Chart(string dir, string metric, string ylabel, bool logScale = false)
    {
        var rows = _chartRows.Where(r => r.Metric == metric).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        var data = Path.Combine(dir, $"{tag}-{metric}.dat");
        File.WriteAllLines(data, rows.Select(r => string.Create(s_inv, $"\"{r.Label}\" {r.Library} {r.Kestrel} {r.SignalR}")));
        var png = Path.Combine(dir, $"{tag}-{metric}.png");
        var script = string.Join('\n',
            "set terminal png size 900,480",
            $"set output '{png}'",
            "set style data histograms",
            "set style histogram clustered gap 1",
            "set style fill solid 0.85 border -1",
            "set boxwidth 0.9",
            "set grid ytics",
            "set key top right",
            logScale ? "set logscale y" : "set yrange [0:*]",
            $"set ylabel '{ylabel}'",
            $"plot '{data}' using 2:xtic(1) title 'library', '' using 3 title 'raw Kestrel', '' using 4 title 'SignalR'");
        var gnuplot = Process.Start(new ProcessStartInfo("gnuplot") { RedirectStandardInput = true, UseShellExecute = false })!;
        gnuplot.StandardInput.Write(script);
        gnuplot.StandardInput.Close();
        gnuplot.WaitForExit();
        File.Delete(data);
    }

    private static string Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static double Num(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;

    private static double Median(List<JsonElement> rows, string field)
    {
        var values = rows.Select(r => Num(r, field)).Where(double.IsFinite).Order().ToArray();
        if (values.Length == 0)
        {
            return double.NaN;
        }

        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2;
    }

    private static string Cell(List<JsonElement> rows, string field, int decimals)
    {
        var values = rows.Select(r => Num(r, field)).Where(double.IsFinite).ToArray();
        if (values.Length == 0)
        {
            return "–";
        }

        var format = decimals == 0 ? "N0" : "N" + decimals;
        var median = Median(rows, field).ToString(format, s_inv);
        return values.Length == 1 ? median : $"{median} ({values.Min().ToString(format, s_inv)}–{values.Max().ToString(format, s_inv)})";
    }

    private static string Ratio(double value, double anchor)
        => double.IsFinite(value) && double.IsFinite(anchor) && anchor > 0 ? (value / anchor).ToString("0.00", s_inv) : "–";
}
