using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoadGen;

/// <summary>One run's JSON line: common fields first, then what the scenario adds.</summary>
public sealed class RunResult
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public RunResult(Options o)
    {
        Json["ts"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        Json["scenario"] = o.Scenario.ToString().ToLowerInvariant();
        Json["target"] = o.Target.ToString().ToLowerInvariant();
        Json["url"] = o.BaseUrl.ToString();
        if (o.Label is not null)
        {
            Json["label"] = o.Label;
        }

        Json["connections"] = o.Connections;
        if (o.SourceIpsText is not null)
        {
            Json["source_ips"] = o.SourceIpsText;
        }
    }

    public JsonObject Json { get; } = [];

    public void Set(string name, double value, int decimals = 1) => Json[name] = Num(value, decimals);

    public static JsonNode? Num(double value, int decimals = 1) =>
        double.IsFinite(value) ? JsonValue.Create(Math.Round(value, decimals)) : null;

    /// <summary>Appends the JSON line to --out (if given).</summary>
    public void Append(string? path)
    {
        // The generator's own CPU time since it started (connecting included).
        Json["loadgen_cpu_s"] = Num(Environment.CpuUsage.TotalTime.TotalSeconds, 2);
        Json["loadgen_rss_kib"] = Environment.WorkingSet / 1024;
        if (path is null)
        {
            return;
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        File.AppendAllText(path, Json.ToJsonString(s_json) + "\n");
    }
}

public static class Stats
{
    /// <summary>Nearest-rank percentile of an ascending array.</summary>
    public static double Percentile(ReadOnlySpan<int> sorted, double p)
    {
        if (sorted.IsEmpty)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Least-squares slope of y over x; NaN with fewer than two distinct x.</summary>
    public static double Slope(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2)
        {
            return double.NaN;
        }

        double mx = 0;
        double my = 0;
        foreach (var (x, y) in points)
        {
            mx += x;
            my += y;
        }

        mx /= points.Count;
        my /= points.Count;
        double sxy = 0;
        double sxx = 0;
        foreach (var (x, y) in points)
        {
            sxy += (x - mx) * (y - my);
            sxx += (x - mx) * (x - mx);
        }

        return sxx == 0 ? double.NaN : sxy / sxx;
    }
}
