using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace LoadGen;

/// <summary>
/// echo / events: N connections, each with exactly one message in flight. Latencies of the round trips
/// that complete inside the measured window are kept per connection (in 100 ns units) and merged at the end.
/// </summary>
public static class EchoScenario
{
    public static async Task<int> RunAsync(Options o, ServerProbe probe, Connector connector, CancellationToken ct)
    {
        var mode = o.Scenario == Scenario.Events ? EchoMode.Events : o.Target == Target.SignalR ? EchoMode.Hub : EchoMode.Raw;
        var uri = connector.WebSocketUri(mode == EchoMode.Events ? "/ws/events" : "/ws/echo");
        var messages = new EchoMessages(mode, o.Size);
        var run = new EchoRun();
        var clients = new EchoClient?[o.Connections];
        var sockets = new ClientWebSocket?[o.Connections];
        // Enough room for ~2M latencies in total without growing; a connection that needs more doubles its array.
        var capacity = Math.Clamp(2_000_000 / o.Connections, 256, 1 << 20);
        var bufferSize = Math.Clamp(o.Size + 256, 512, 4096);

        Console.WriteLine($"echo: {mode} {uri}, {o.Connections} connections, {o.Size} bytes, warmup {o.WarmupSeconds} s, duration {o.DurationSeconds} s");
        var report = await connector.ConnectManyAsync(0, o.Connections, async (i, token) =>
        {
            var hub = mode == EchoMode.Hub ? new HubScanner() : null;
            var receive = new byte[bufferSize];
            var ws = await connector.ConnectAsync(uri, bufferSize, hub, receive, token);
            sockets[i] = ws;
            clients[i] = new EchoClient(ws, messages, hub, receive, capacity);
        }, stopOnError: true, ct);
        if (report.Failed > 0)
        {
            await Connector.CloseAllAsync(sockets, null, TimeSpan.FromSeconds(5));
            throw new InvalidOperationException($"{report.Failed} of {o.Connections} connections failed: {report.FirstError?.Message}", report.FirstError);
        }

        Console.WriteLine($"connected {report.Connected} in {report.Elapsed.TotalSeconds:0.00} s");

        var loops = new Task[o.Connections];
        for (var i = 0; i < loops.Length; i++)
        {
            loops[i] = clients[i]!.RunAsync(run);
        }

        var all = Task.WhenAll(loops);
        ProcSample before;
        ProcSample after;
        TimeSpan ownCpu;
        long started;
        long stopped;
        try
        {
            await run.WaitAsync(TimeSpan.FromSeconds(o.WarmupSeconds), ct);
            var ownBefore = Environment.CpuUsage.TotalTime;
            before = probe.Sample();
            started = Stopwatch.GetTimestamp();
            run.Phase = EchoRun.Measuring;
            await run.WaitAsync(TimeSpan.FromSeconds(o.DurationSeconds), ct);
            run.Phase = EchoRun.Stopping;
            stopped = Stopwatch.GetTimestamp();
            after = probe.Sample();
            ownCpu = Environment.CpuUsage.TotalTime - ownBefore;
        }
        catch
        {
            run.Phase = EchoRun.Stopping;
            await Connector.CloseAllAsync(sockets, all, TimeSpan.FromSeconds(2));
            throw;
        }

        // Each loop ends after its round trip in flight; then close.
        await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None));
        await Connector.CloseAllAsync(sockets, all, TimeSpan.FromSeconds(5));
        if (run.Error is not null)
        {
            throw new InvalidOperationException($"a connection failed during the run: {run.Error.Message}", run.Error);
        }

        var window = Stopwatch.GetElapsedTime(started, stopped).TotalSeconds;
        long count = 0;
        foreach (var c in clients)
        {
            count += c!.Count;
        }

        var latencies = new int[count];
        var at = 0;
        foreach (var c in clients)
        {
            c!.Latencies.AsSpan(0, c.Count).CopyTo(latencies.AsSpan(at));
            at += c.Count;
        }

        Array.Sort(latencies);
        double mean = 0;
        foreach (var l in latencies)
        {
            mean += l;
        }

        mean = count > 0 ? mean / count / 10 : double.NaN;
        var p50 = Stats.Percentile(latencies, 0.50) / 10;
        var p99 = Stats.Percentile(latencies, 0.99) / 10;
        var p999 = Stats.Percentile(latencies, 0.999) / 10;
        var max = count > 0 ? latencies[^1] / 10.0 : double.NaN;
        var cpuMicros = after.CpuMicros - before.CpuMicros;
        var rate = count / window;
        var cpuPerMsg = count > 0 ? (double)cpuMicros / count : double.NaN;

        Console.WriteLine($"messages     {count} in {window:0.000} s = {rate:0} msg/s");
        Console.WriteLine($"latency      p50 {p50:0.0} us, p99 {p99:0.0} us, p99.9 {p999:0.0} us, max {max:0.0} us, mean {mean:0.0} us");
        Console.WriteLine($"server cpu   {cpuMicros / 1000.0:0} ms = {cpuMicros / window / 10_000:0.0}% of a core, {cpuPerMsg:0.00} us/msg (CLK_TCK {probe.ClockTicks}, {probe.ClockTicksSource})");
        Console.WriteLine($"server rss   {before.RssKib} -> {after.RssKib} KiB");
        Console.WriteLine($"loadgen cpu  {ownCpu.TotalSeconds / window * 100:0.0}% of a core");

        var result = new RunResult(o);
        result.Json["size"] = o.Size;
        result.Set("warmup_s", o.WarmupSeconds, 3);
        result.Set("duration_s", o.DurationSeconds, 3);
        result.Json["server_pid"] = probe.Pid;
        result.Json["messages"] = count;
        result.Set("window_s", window, 4);
        result.Set("msgs_per_sec", rate);
        result.Set("p50_us", p50);
        result.Set("p99_us", p99);
        result.Set("p999_us", p999);
        result.Set("max_us", max);
        result.Set("mean_us", mean);
        result.Json["server_cpu_us"] = cpuMicros;
        result.Set("server_cpu_us_per_msg", cpuPerMsg, 3);
        result.Set("server_cpu_pct", cpuMicros / window / 10_000);
        result.Json["server_rss_kib"] = after.RssKib;
        result.Json["server_rss_kib_before"] = before.RssKib;
        result.Set("loadgen_cpu_pct", ownCpu.TotalSeconds / window * 100);
        result.Json["clk_tck"] = probe.ClockTicks;
        result.Append(o.OutPath);
        return 0;
    }
}

public enum EchoMode
{
    Raw,
    Events,
    Hub,
}

/// <summary>Shared by all connections of one run: the phase and the first failure.</summary>
public sealed class EchoRun
{
    public const int WarmingUp = 0;
    public const int Measuring = 1;
    public const int Stopping = 2;

    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile int _phase;

    public int Phase
    {
        get => _phase;
        set => _phase = value;
    }

    public Exception? Error { get; private set; }

    public void Fail(Exception e)
    {
        lock (_failed)
        {
            Error ??= e;
        }

        _failed.TrySetResult();
    }

    /// <summary>Waits for <paramref name="delay"/>; throws at once if a connection fails meanwhile.</summary>
    public async Task WaitAsync(TimeSpan delay, CancellationToken ct)
    {
        await Task.WhenAny(Task.Delay(delay, ct), _failed.Task);
        ct.ThrowIfCancellationRequested();
        if (Error is not null)
        {
            throw new InvalidOperationException($"a connection failed: {Error.Message}", Error);
        }
    }
}

/// <summary>The fixed parts of the request messages, built once per run.</summary>
public sealed class EchoMessages
{
    public EchoMessages(EchoMode mode, int size)
    {
        Mode = mode;
        Size = size;
        var data = new string('x', size);
        switch (mode)
        {
            case EchoMode.Raw:
                Prefix = Encoding.UTF8.GetBytes(data);
                Suffix = [];
                break;
            case EchoMode.Events:
                Prefix = Encoding.UTF8.GetBytes("{\"event\":\"echo\",\"data\":\"" + data + "\",\"id\":");
                Suffix = "}"u8.ToArray();
                break;
            default:
                Prefix = "{\"type\":1,\"invocationId\":\""u8.ToArray();
                Suffix = Encoding.UTF8.GetBytes("\",\"target\":\"Echo\",\"arguments\":[\"" + data + "\"]}\u001e");
                break;
        }
    }

    public EchoMode Mode { get; }

    public int Size { get; }

    /// <summary>Everything before the request ID (raw echo: the whole payload).</summary>
    public byte[] Prefix { get; }

    /// <summary>Everything after the request ID.</summary>
    public byte[] Suffix { get; }
}

/// <summary>One connection's loop: send, await the matching reply, record, repeat.</summary>
public sealed class EchoClient
{
    private const int HeadLength = 64;
    private static readonly byte[] s_reply = "\"reply\":"u8.ToArray();
    private static readonly byte[] s_error = "\"error\""u8.ToArray();

    private readonly ClientWebSocket _ws;
    private readonly EchoMessages _messages;
    private readonly HubScanner? _hub;
    private readonly byte[] _receive;
    private readonly byte[] _send;
    private readonly byte[] _head = new byte[HeadLength];
    private int[] _latencies;

    public EchoClient(ClientWebSocket ws, EchoMessages messages, HubScanner? hub, byte[] receive, int capacity)
    {
        _ws = ws;
        _messages = messages;
        _hub = hub;
        _receive = receive;
        _latencies = new int[capacity];
        _send = new byte[messages.Prefix.Length + 20 + messages.Suffix.Length];
        messages.Prefix.CopyTo(_send, 0);
    }

    /// <summary>Round-trip times in 100 ns units; the first <see cref="Count"/> are valid.</summary>
    public int[] Latencies => _latencies;

    /// <summary>Round trips completed inside the measured window.</summary>
    public int Count { get; private set; }

    public async Task RunAsync(EchoRun run)
    {
        // Yield so that starting N loops doesn't run the first sends inline on the caller.
        await Task.Yield();
        try
        {
            long id = 0;
            while (run.Phase != EchoRun.Stopping)
            {
                id++;
                var length = BuildMessage(id);
                var t0 = Stopwatch.GetTimestamp();
                await _ws.SendAsync(_send.AsMemory(0, length), WebSocketMessageType.Text, true, CancellationToken.None);
                await ReceiveReplyAsync(id);
                var t1 = Stopwatch.GetTimestamp();
                if (run.Phase == EchoRun.Measuring)
                {
                    Record(t1 - t0);
                }
            }
        }
        catch (Exception e) when (run.Phase != EchoRun.Stopping)
        {
            run.Fail(e);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Aborted while stopping.
        }
    }

    private int BuildMessage(long id)
    {
        if (_messages.Mode == EchoMode.Raw)
        {
            return _messages.Prefix.Length;
        }

        var at = _messages.Prefix.Length;
        Utf8Formatter.TryFormat(id, _send.AsSpan(at), out var written);
        at += written;
        _messages.Suffix.CopyTo(_send, at);
        return at + _messages.Suffix.Length;
    }

    // Pooled: a state machine box per round trip would be the generator's only per-message allocation.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReceiveReplyAsync(long id)
    {
        if (_hub is not null)
        {
            while (_hub.Completions == 0)
            {
                var r = await _ws.ReceiveAsync(_receive.AsMemory(), CancellationToken.None);
                ThrowIfClose(r);
                _hub.Feed(_receive.AsSpan(0, r.Count));
            }

            if (_hub.Completions != 1 || _hub.LastCompletionId != id)
            {
                throw new HubProtocolException($"expected the completion of invocation {id}, got {_hub.Completions} completion(s), last {_hub.LastCompletionId}");
            }

            _hub.TakeCompletion();
            return;
        }

        while (true)
        {
            var total = 0;
            ValueWebSocketReceiveResult r;
            do
            {
                r = await _ws.ReceiveAsync(_receive.AsMemory(), CancellationToken.None);
                ThrowIfClose(r);
                if (total < HeadLength)
                {
                    var n = Math.Min(HeadLength - total, r.Count);
                    _receive.AsSpan(0, n).CopyTo(_head.AsSpan(total));
                }

                total += r.Count;
            }
            while (!r.EndOfMessage);

            if (_messages.Mode == EchoMode.Raw)
            {
                if (total != _messages.Size)
                {
                    throw new InvalidDataException($"echo of {_messages.Size} bytes came back as {total} bytes");
                }

                return;
            }

            // Events: {"reply":n,"data":…}; skip unsolicited events, fail on error notices and error replies.
            var head = _head.AsSpan(0, Math.Min(total, HeadLength));
            var at = head.IndexOf(s_reply);
            if (at < 0)
            {
                if (head.IndexOf(s_error) >= 0)
                {
                    throw new InvalidDataException($"error notice: {Encoding.UTF8.GetString(head)}");
                }

                continue;
            }

            if (!Utf8Parser.TryParse(head[(at + s_reply.Length)..], out long reply, out var used) || reply != id)
            {
                throw new InvalidDataException($"expected the reply to {id}: {Encoding.UTF8.GetString(head)}");
            }

            if (head[(at + s_reply.Length + used)..].StartsWith(",\"error\""u8))
            {
                throw new InvalidDataException($"error reply: {Encoding.UTF8.GetString(head)}");
            }

            return;
        }
    }

    private void ThrowIfClose(ValueWebSocketReceiveResult r)
    {
        if (r.MessageType == WebSocketMessageType.Close)
        {
            throw new WebSocketException($"the server closed the connection ({_ws.CloseStatus} {_ws.CloseStatusDescription})");
        }
    }

    private void Record(long elapsedTimestamp)
    {
        if (Count == _latencies.Length)
        {
            Array.Resize(ref _latencies, _latencies.Length * 2);
        }

        var units = elapsedTimestamp * 10_000_000 / Stopwatch.Frequency;
        _latencies[Count++] = (int)Math.Min(units, int.MaxValue);
    }
}
