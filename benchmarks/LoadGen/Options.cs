using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LoadGen;

public enum Target
{
    Library,
    Kestrel,
    SignalR,
}

public enum Scenario
{
    Echo,
    Events,
    Fanout,
    Idle,
    Hold,
}

/// <summary>Thrown for a bad command line: printed with the usage text, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The parsed command line. Every scenario reads only the options it needs.</summary>
public sealed class Options
{
    public const string Usage = """
        LoadGen --target library|kestrel|signalr --url http://127.0.0.1:PORT --scenario echo|events|fanout|idle|hold [options] [--out results.jsonl]

        echo    --connections 100 --size 64 --warmup 3 --duration 10
                N connections on /ws/echo, one message in flight each (SignalR: Echo invocations).
        events  same options as echo; library only: {"event":"echo","data":…,"id":n} on /ws/events.
        fanout  --connections 1000 --messages 100 --size 256 --repeats 5 [--warmup-repeats 1] [--timeout 60]
                N subscribers on /ws/broadcast; each repeat GET /broadcast?n=K&size=B and waits for N*K deliveries.
        idle    --connections 10000 --steps 5 [--settle 2]
                opens N idle subscribers in S steps and reads the server's VmRSS after each step.
        hold    --connections N --hold-seconds 60 [--source-ips 127.0.0.2-127.0.0.20] [--max-rounds 100000]
                opens N subscribers, prints READY <connected>, then RECEIVED / ALL_RECEIVED lines per broadcast;
                ends after the hold time, on SIGTERM/SIGINT, or when stdin (if it is a pipe) reaches EOF.

        common  --out FILE              append one JSON line per run
                --label TEXT            free-form tag copied into the JSON line
                --source-ips A-B|A,B,…  local source addresses (127.0.0.0/8), round-robin per connection
                --connect-concurrency 200   connections being opened at once
                --connect-timeout 30    seconds per connection attempt
                --clk-tck N             clock ticks per second of /proc/PID/stat (default: getconf CLK_TCK, else 100)
        """;

    public Target Target { get; private set; }
    public Scenario Scenario { get; private set; }
    public Uri BaseUrl { get; private set; } = new("http://127.0.0.1/");
    public string? OutPath { get; private set; }
    public string? Label { get; private set; }

    public int Connections { get; private set; }
    public int Size { get; private set; }
    public double WarmupSeconds { get; private set; } = 3;
    public double DurationSeconds { get; private set; } = 10;
    public int Messages { get; private set; } = 100;
    public int Repeats { get; private set; } = 5;
    public int WarmupRepeats { get; private set; } = 1;
    public double TimeoutSeconds { get; private set; } = 60;
    public int Steps { get; private set; } = 5;
    public double SettleSeconds { get; private set; } = 2;
    public double HoldSeconds { get; private set; } = 60;
    public int MaxRounds { get; private set; } = 100_000;
    public IReadOnlyList<IPAddress> SourceIps { get; private set; } = [];
    public string? SourceIpsText { get; private set; }
    public int ConnectConcurrency { get; private set; } = 200;
    public double ConnectTimeoutSeconds { get; private set; } = 30;
    public int? ClockTicks { get; private set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        string? target = null;
        string? scenario = null;
        string? url = null;
        int? connections = null;
        int? size = null;

        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name is "-h" or "--help")
            {
                throw new UsageException("");
            }

            if (!name.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UsageException($"unexpected argument '{name}'");
            }

            if (i + 1 >= args.Length)
            {
                throw new UsageException($"{name} needs a value");
            }

            var value = args[++i];
            switch (name)
            {
                case "--target": target = value; break;
                case "--scenario": scenario = value; break;
                case "--url": url = value; break;
                case "--out": o.OutPath = value; break;
                case "--label": o.Label = value; break;
                case "--connections": connections = ParseInt(name, value, 1, 1_000_000); break;
                case "--size": size = ParseInt(name, value, 1, 16 * 1024 * 1024); break;
                case "--warmup": o.WarmupSeconds = ParseDouble(name, value, 0, 3600); break;
                case "--duration": o.DurationSeconds = ParseDouble(name, value, 0.1, 3600); break;
                case "--messages": o.Messages = ParseInt(name, value, 1, 10_000_000); break;
                case "--repeats": o.Repeats = ParseInt(name, value, 1, 1000); break;
                case "--warmup-repeats": o.WarmupRepeats = ParseInt(name, value, 0, 100); break;
                case "--timeout": o.TimeoutSeconds = ParseDouble(name, value, 1, 3600); break;
                case "--steps": o.Steps = ParseInt(name, value, 1, 1000); break;
                case "--settle": o.SettleSeconds = ParseDouble(name, value, 0, 600); break;
                case "--hold-seconds": o.HoldSeconds = ParseDouble(name, value, 0, 24 * 3600); break;
                case "--max-rounds": o.MaxRounds = ParseInt(name, value, 1, 10_000_000); break;
                case "--source-ips": o.SourceIps = ParseSourceIps(value); o.SourceIpsText = value; break;
                case "--connect-concurrency": o.ConnectConcurrency = ParseInt(name, value, 1, 10_000); break;
                case "--connect-timeout": o.ConnectTimeoutSeconds = ParseDouble(name, value, 1, 600); break;
                case "--clk-tck": o.ClockTicks = ParseInt(name, value, 1, 1_000_000); break;
                default: throw new UsageException($"unknown option {name}");
            }
        }

        o.Target = target switch
        {
            "library" => Target.Library,
            "kestrel" => Target.Kestrel,
            "signalr" => Target.SignalR,
            null => throw new UsageException("--target is required"),
            _ => throw new UsageException($"unknown target '{target}' (library|kestrel|signalr)"),
        };
        o.Scenario = scenario switch
        {
            "echo" => Scenario.Echo,
            "events" => Scenario.Events,
            "fanout" => Scenario.Fanout,
            "idle" => Scenario.Idle,
            "hold" => Scenario.Hold,
            null => throw new UsageException("--scenario is required"),
            _ => throw new UsageException($"unknown scenario '{scenario}' (echo|events|fanout|idle|hold)"),
        };
        if (o.Scenario == Scenario.Events && o.Target != Target.Library)
        {
            throw new UsageException("the events scenario exists only for --target library (pair it with signalr's echo)");
        }

        o.BaseUrl = ParseUrl(url ?? throw new UsageException("--url is required"));
        o.Connections = connections ?? o.Scenario switch
        {
            Scenario.Echo or Scenario.Events => 100,
            Scenario.Fanout => 1000,
            Scenario.Idle => 10_000,
            _ => 1000,
        };
        o.Size = size ?? (o.Scenario == Scenario.Fanout ? 256 : 64);
        if (o.Steps > o.Connections)
        {
            throw new UsageException("--steps must not exceed --connections");
        }

        return o;
    }

    private static int ParseInt(string name, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            throw new UsageException($"{name} must be an integer from {min} to {max}, not '{value}'");
        }

        return n;
    }

    private static double ParseDouble(string name, string value, double min, double max)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d < min || d > max)
        {
            throw new UsageException($"{name} must be a number from {min} to {max}, not '{value}'");
        }

        return d;
    }

    /// <summary>Only http:// URLs on 127.0.0.0/8 (or localhost, taken as 127.0.0.1).</summary>
    private static Uri ParseUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new UsageException($"--url must be an absolute http:// URL, not '{text}'");
        }

        IPAddress ip;
        if (uri.IsLoopback && uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            ip = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(uri.Host, out ip!))
        {
            throw new UsageException($"--url host must be an IPv4 address in 127.0.0.0/8, not '{uri.Host}'");
        }

        if (!IsLoopbackV4(ip))
        {
            throw new UsageException($"--url must point into 127.0.0.0/8, not {ip}");
        }

        return new UriBuilder(Uri.UriSchemeHttp, ip.ToString(), uri.Port, "/").Uri;
    }

    /// <summary>"127.0.0.2-127.0.0.20", "127.0.0.2,127.0.0.3" or a single address.</summary>
    public static IReadOnlyList<IPAddress> ParseSourceIps(string text)
    {
        var result = new List<IPAddress>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                result.Add(ParseLoopback(part));
                continue;
            }

            var first = ToUInt(ParseLoopback(part[..dash]));
            var last = ToUInt(ParseLoopback(part[(dash + 1)..]));
            if (last < first || last - first > 65_535)
            {
                throw new UsageException($"bad --source-ips range '{part}'");
            }

            for (var a = first; a <= last; a++)
            {
                result.Add(new IPAddress([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]));
            }
        }

        if (result.Count == 0)
        {
            throw new UsageException("--source-ips is empty");
        }

        return result;
    }

    private static IPAddress ParseLoopback(string text)
    {
        if (!IPAddress.TryParse(text, out var ip) || !IsLoopbackV4(ip))
        {
            throw new UsageException($"source address '{text}' is not an IPv4 address in 127.0.0.0/8");
        }

        return ip;
    }

    private static bool IsLoopbackV4(IPAddress ip) =>
        ip.AddressFamily == AddressFamily.InterNetwork && ip.GetAddressBytes()[0] == 127;

    private static uint ToUInt(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }
}
