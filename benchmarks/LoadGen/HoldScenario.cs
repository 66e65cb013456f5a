using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace LoadGen;

/// <summary>
/// hold (scale test): opens N subscribers spread over the source addresses, prints READY, then reports
/// broadcast deliveries until the hold time ends, SIGTERM/SIGINT arrives or stdin (a pipe) reaches EOF.
/// Round m is the m-th message every connection receives (one message per broadcast).
/// Lines on stdout, for the runner:
///   READY &lt;connected&gt;
///   RECEIVED &lt;connections that have round M&gt; round=M alive=A        (at most once per second, when it changed)
///   ALL_RECEIVED &lt;ms from the first receipt of round M to the last&gt; round=M connections=C at_us=&lt;Unix µs of the last&gt;
///   DONE connected=… failed=… alive=… rounds_complete=… messages=…
/// </summary>
public static class HoldScenario
{
    public static async Task<int> RunAsync(Options o, ServerProbe probe, Connector connector, CancellationToken ct)
    {
        var n = o.Connections;
        var uri = connector.WebSocketUri("/ws/broadcast");
        var subscribers = new Subscriber?[n];
        var sockets = new ClientWebSocket?[n];
        var loops = new Task?[n];
        var sink = new HoldSink(o.MaxRounds);
        using var keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task? keepAlive = null;
        var stdinEof = StdinWatcher.StartIfPipe();

        Console.WriteLine($"hold: {uri}, {n} connections, source addresses {o.SourceIpsText ?? "(default)"}, hold {o.HoldSeconds} s{(stdinEof is null ? "" : ", until stdin closes")}");
        try
        {
            var report = await connector.ConnectManyAsync(0, n, async (i, token) =>
            {
                var hub = o.Target == Target.SignalR ? new HubScanner() : null;
                var buffer = new byte[512];
                var ws = await connector.ConnectAsync(uri, 512, hub, buffer, token);
                sockets[i] = ws;
                var s = new Subscriber(i, ws, hub, buffer);
                subscribers[i] = s;
                sink.Opened();
                loops[i] = s.RunAsync(sink);
            }, stopOnError: false, ct);

            Console.WriteLine($"CONNECTED {report.Connected} FAILED {report.Failed} in {report.Elapsed.TotalSeconds:0.00} s{(report.FirstError is null ? "" : $" (first error: {report.FirstError.Message})")}");
            if (o.Target == Target.SignalR)
            {
                keepAlive = HubKeepAlive.RunAsync(subscribers, keepAliveStop.Token);
            }

            sink.SetReady();
            Console.WriteLine($"READY {report.Connected}");

            var holdStarted = Stopwatch.GetTimestamp();
            var end = Task.Delay(TimeSpan.FromSeconds(o.HoldSeconds), ct);
            var stop = stdinEof is null ? end : Task.WhenAny(end, stdinEof);
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (!stop.IsCompleted)
            {
                var tick = timer.WaitForNextTickAsync(CancellationToken.None).AsTask();
                await Task.WhenAny(tick, stop);
                sink.Report();
            }

            var reason = ct.IsCancellationRequested ? "signal" : stdinEof is { IsCompleted: true } ? "stdin closed" : "hold time over";
            var held = Stopwatch.GetElapsedTime(holdStarted).TotalSeconds;
            sink.Report();
            long messages = 0;
            foreach (var s in subscribers)
            {
                messages += s?.Received ?? 0;
            }

            var rss = probe.ReadRssKib();
            Console.WriteLine($"DONE connected={report.Connected} failed={report.Failed} alive={sink.Alive} rounds_complete={sink.CompleteRounds} messages={messages} held={held:0.0}s ({reason}) server_rss_kib={rss} loadgen_rss_kib={Environment.WorkingSet / 1024}");

            var result = new RunResult(o);
            result.Set("hold_s", o.HoldSeconds, 3);
            result.Set("held_s", held, 3);
            result.Json["end_reason"] = reason;
            result.Json["server_pid"] = probe.Pid;
            result.Json["connected"] = report.Connected;
            result.Json["failed"] = report.Failed;
            result.Set("connect_s", report.Elapsed.TotalSeconds, 3);
            if (report.FirstError is not null)
            {
                result.Json["first_error"] = report.FirstError.Message;
            }

            result.Json["alive_at_end"] = sink.Alive;
            result.Json["messages"] = messages;
            result.Json["rounds_complete"] = sink.CompleteRounds;
            result.Json["all_received_ms"] = sink.AllReceivedMs();
            result.Json["server_rss_kib"] = rss;
            result.Append(o.OutPath);
            return 0;
        }
        finally
        {
            await keepAliveStop.CancelAsync();
            if (keepAlive is not null)
            {
                await keepAlive;
            }

            await Connector.CloseAllAsync(sockets, FanoutScenario.WhenAll(loops), TimeSpan.FromSeconds(10));
        }
    }
}

/// <summary>Per round: how many connections have it, when the first got it, whether ALL_RECEIVED was printed.</summary>
public sealed class HoldSink(int maxRounds) : DeliverySink
{
    private readonly int[] _reached = new int[maxRounds + 1];
    private readonly long[] _first = new long[maxRounds + 1];
    private readonly double[] _allMs = new double[maxRounds + 1];
    private readonly int[] _reported = new int[maxRounds + 1];
    private int _alive;
    private int _latest;
    private int _complete;
    private volatile bool _ready;
    private int _lastPrintedRound;
    private int _lastPrintedCount;

    public int Alive => Volatile.Read(ref _alive);

    public int CompleteRounds => Volatile.Read(ref _complete);

    public void Opened() => Interlocked.Increment(ref _alive);

    public void SetReady() => _ready = true;

    public override void OnDelivered(Subscriber subscriber, long before, long after)
    {
        var last = (int)Math.Min(after, maxRounds);
        for (var m = (int)before + 1; m <= last; m++)
        {
            if (Volatile.Read(ref _first[m]) == 0)
            {
                Interlocked.CompareExchange(ref _first[m], Stopwatch.GetTimestamp(), 0);
            }

            var count = Interlocked.Increment(ref _reached[m]);
            if (count == 1)
            {
                InterlockedMax(ref _latest, m);
            }

            if (_ready && count >= Volatile.Read(ref _alive))
            {
                TryReportAll(m, count);
            }
        }
    }

    public override void OnClosed(Subscriber subscriber, Exception? error) => Interlocked.Decrement(ref _alive);

    /// <summary>Called once a second: RECEIVED for the latest round, and ALL_RECEIVED for rounds completed by connections dropping.</summary>
    public void Report()
    {
        var latest = Volatile.Read(ref _latest);
        if (latest == 0)
        {
            return;
        }

        var alive = Alive;
        for (var m = Math.Max(1, latest - 16); m <= latest; m++)
        {
            var count = Volatile.Read(ref _reached[m]);
            if (count >= alive)
            {
                TryReportAll(m, count);
            }
        }

        var reached = Volatile.Read(ref _reached[latest]);
        if (latest != _lastPrintedRound || reached != _lastPrintedCount)
        {
            _lastPrintedRound = latest;
            _lastPrintedCount = reached;
            Console.WriteLine($"RECEIVED {reached} round={latest} alive={alive}");
        }
    }

    public JsonArray AllReceivedMs()
    {
        var array = new JsonArray();
        var latest = Volatile.Read(ref _latest);
        for (var m = 1; m <= latest && array.Count < 10_000; m++)
        {
            array.Add(Volatile.Read(ref _reported[m]) == 1 ? RunResult.Num(_allMs[m], 3) : null);
        }

        return array;
    }

    private void TryReportAll(int m, int count)
    {
        if (Interlocked.CompareExchange(ref _reported[m], 2, 0) != 0)
        {
            return;
        }

        var ms = Stopwatch.GetElapsedTime(Volatile.Read(ref _first[m])).TotalMilliseconds;
        _allMs[m] = ms;
        Volatile.Write(ref _reported[m], 1);
        Interlocked.Increment(ref _complete);
        // at_us: the wall-clock time of the last receipt (Unix microseconds), for runners that time across processes.
        var atMicros = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        Console.WriteLine($"ALL_RECEIVED {ms:0.0} round={m} connections={count} at_us={atMicros}");
    }

    private static void InterlockedMax(ref int location, int value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>When stdin is a pipe (the runner holds its write end), EOF on it means "stop".</summary>
public static class StdinWatcher
{
    public static Task? StartIfPipe()
    {
        string target;
        try
        {
            target = new FileInfo("/proc/self/fd/0").LinkTarget ?? "";
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        if (!target.StartsWith("pipe:", StringComparison.Ordinal))
        {
            // A terminal, /dev/null (background jobs in scripts) or a file: never means "stop".
            return null;
        }

        var eof = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A dedicated background thread blocks on the read, so no pool thread does.
        var thread = new Thread(() =>
        {
            try
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (stdin.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }

            eof.TrySetResult();
        })
        {
            IsBackground = true,
            Name = "stdin watcher",
        };
        thread.Start();
        return eof.Task;
    }
}
