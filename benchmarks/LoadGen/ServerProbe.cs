using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace LoadGen;

/// <summary>One reading of the server process: CPU time (user + system) and resident set size.</summary>
public readonly record struct ProcSample(long CpuMicros, long RssKib, long Timestamp);

/// <summary>The server's HTTP side (/pid, /broadcast) and its /proc entries.</summary>
public sealed class ServerProbe : IDisposable
{
    private readonly HttpClient _http;
    private readonly long _clockTicks;

    public ServerProbe(Uri baseUrl, int? clockTicks)
    {
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(120),
        };
        if (clockTicks is { } ticks)
        {
            _clockTicks = ticks;
            ClockTicksSource = "option";
        }
        else
        {
            _clockTicks = ReadClockTicks(out var fromGetconf);
            ClockTicksSource = fromGetconf ? "getconf" : "assumed";
        }
    }

    public int Pid { get; private set; }

    public long ClockTicks => _clockTicks;

    public string ClockTicksSource { get; }

    public async Task<int> ReadPidAsync(CancellationToken ct)
    {
        var text = (await _http.GetStringAsync("pid", ct)).Trim();
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new InvalidOperationException($"GET /pid returned '{text}', not a process ID");
        }

        if (!File.Exists($"/proc/{pid}/stat"))
        {
            throw new InvalidOperationException($"the server reports PID {pid}, but /proc/{pid} does not exist (not on this machine?)");
        }

        Pid = pid;
        return pid;
    }

    /// <summary>GET /broadcast?n=K&amp;size=B; returns the server's recipient count.</summary>
    public async Task<BroadcastReply> BroadcastAsync(int messages, int size, CancellationToken ct)
    {
        var path = messages == 0
            ? "broadcast?n=0"
            : string.Create(CultureInfo.InvariantCulture, $"broadcast?n={messages}&size={size}");
        using var response = await _http.GetAsync(path, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /{path} failed: {(int)response.StatusCode} {body}");
        }

        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        var recipients = root.GetProperty("recipients").GetInt32();
        var elapsed = root.TryGetProperty("elapsedMs", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : double.NaN;
        return new BroadcastReply(recipients, elapsed);
    }

    /// <summary>Polls GET /broadcast?n=0 until the server counts <paramref name="expected"/> subscribers.</summary>
    public async Task<int> WaitForRecipientsAsync(int expected, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var last = -1;
        while (true)
        {
            last = (await BroadcastAsync(0, 0, ct)).Recipients;
            if (last == expected)
            {
                return last;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"the server counts {last} subscribers, expected {expected} (waited {timeout.TotalSeconds:0} s)");
            }

            await Task.Delay(100, ct);
        }
    }

    public ProcSample Sample() => new(ReadCpuMicros(), ReadRssKib(), Stopwatch.GetTimestamp());

    /// <summary>utime + stime (fields 14 and 15 of /proc/PID/stat, in clock ticks) as microseconds.</summary>
    public long ReadCpuMicros()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
        var rest = stat.AsSpan(stat.LastIndexOf(')') + 2);
        long utime = 0;
        long stime = 0;
        var field = 3;
        foreach (var range in rest.Split(' '))
        {
            if (field == 14)
            {
                utime = long.Parse(rest[range], CultureInfo.InvariantCulture);
            }
            else if (field == 15)
            {
                stime = long.Parse(rest[range], CultureInfo.InvariantCulture);
                break;
            }

            field++;
        }

        return (utime + stime) * 1_000_000 / _clockTicks;
    }

    /// <summary>VmRSS from /proc/PID/status, in KiB.</summary>
    public long ReadRssKib()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var digits = line.AsSpan(6).Trim();
                var space = digits.IndexOf(' ');
                return long.Parse(space < 0 ? digits : digits[..space], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no VmRSS in /proc/{Pid}/status");
    }

    /// <summary>CLK_TCK from `getconf CLK_TCK`; 100 (the Linux USER_HZ) if that fails.</summary>
    private static long ReadClockTicks(out bool fromGetconf)
    {
        fromGetconf = false;
        try
        {
            using var p = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            });
            if (p is not null)
            {
                var text = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit(5000);
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) && ticks > 0)
                {
                    fromGetconf = true;
                    return ticks;
                }
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }

        return 100;
    }

    public void Dispose() => _http.Dispose();
}

public readonly record struct BroadcastReply(int Recipients, double ServerElapsedMs);
