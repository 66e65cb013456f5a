using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace LoadGen;

/// <summary>
/// fanout: N subscribers; per repeat, GET /broadcast?n=K&amp;size=B and time until every subscriber has
/// received its K messages. The first --warmup-repeats rounds are run the same way but not reported.
/// </summary>
public static class FanoutScenario
{
    public static async Task<int> RunAsync(Options o, ServerProbe probe, Connector connector, CancellationToken ct)
    {
        var n = o.Connections;
        var k = o.Messages;
        var uri = connector.WebSocketUri("/ws/broadcast");
        var subscribers = new Subscriber?[n];
        var sockets = new ClientWebSocket?[n];
        var loops = new Task?[n];
        var sink = new FanoutSink();
        using var keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task? keepAlive = null;

        Console.WriteLine($"fanout: {uri}, {n} subscribers, {k} messages of {o.Size} bytes, {o.WarmupRepeats} warmup + {o.Repeats} repeats");
        try
        {
            var report = await connector.ConnectManyAsync(0, n, async (i, token) =>
            {
                var hub = o.Target == Target.SignalR ? new HubScanner() : null;
                var buffer = new byte[Math.Clamp(o.Size + 256, 512, 4096)];
                var ws = await connector.ConnectAsync(uri, 4096, hub, buffer, token);
                sockets[i] = ws;
                var s = new Subscriber(i, ws, hub, buffer);
                subscribers[i] = s;
                loops[i] = s.RunAsync(sink);
            }, stopOnError: true, ct);
            if (report.Failed > 0)
            {
                throw new InvalidOperationException($"{report.Failed} of {n} connections failed: {report.FirstError?.Message}", report.FirstError);
            }

            Console.WriteLine($"connected {report.Connected} in {report.Elapsed.TotalSeconds:0.00} s");
            if (o.Target == Target.SignalR)
            {
                keepAlive = HubKeepAlive.RunAsync(subscribers, keepAliveStop.Token);
            }

            await probe.WaitForRecipientsAsync(n, TimeSpan.FromSeconds(30), ct);
            Console.WriteLine($"server counts {n} recipients");

            var elapsedMs = new List<double>();
            var rates = new List<double>();
            var cpuPerMsg = new List<double>();
            var rounds = new JsonArray();
            var delivered = (long)n * k;
            long cpuTotal = 0;
            for (var round = 0; round < o.WarmupRepeats + o.Repeats; round++)
            {
                var warmup = round < o.WarmupRepeats;
                var done = sink.Arm((round + 1L) * k, n);
                var before = probe.Sample();
                var started = Stopwatch.GetTimestamp();
                // The timeout covers the request too: a server may answer only once it has sent everything.
                using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var timeout = Task.Delay(TimeSpan.FromSeconds(o.TimeoutSeconds), timeoutCts.Token);
                var get = probe.BroadcastAsync(k, o.Size, ct);
                var first = await Task.WhenAny(done, get, timeout);
                if (first == get)
                {
                    await get; // throws if the request failed
                    first = await Task.WhenAny(done, timeout);
                }

                if (first == timeout)
                {
                    ct.ThrowIfCancellationRequested();
                    throw new TimeoutException($"round {round + 1}: {sink.Remaining} of {n} subscribers had not received {k} messages after {o.TimeoutSeconds} s");
                }

                var completedAt = await done;
                await timeoutCts.CancelAsync();
                var reply = await get;
                var after = probe.Sample();
                if (reply.Recipients != n)
                {
                    throw new InvalidOperationException($"round {round + 1}: the server broadcast to {reply.Recipients} recipients, expected {n}");
                }

                var elapsed = Stopwatch.GetElapsedTime(started, completedAt);
                var rate = delivered / elapsed.TotalSeconds;
                var cpu = (double)(after.CpuMicros - before.CpuMicros) / delivered;
                Console.WriteLine($"{(warmup ? "warmup" : "repeat")} {(warmup ? round + 1 : round + 1 - o.WarmupRepeats)}: {elapsed.TotalMilliseconds:0.0} ms, {rate:0} msg/s, server cpu {cpu:0.000} us/msg (server says {reply.ServerElapsedMs:0.0} ms), rss {after.RssKib} KiB");
                if (warmup)
                {
                    continue;
                }

                elapsedMs.Add(elapsed.TotalMilliseconds);
                rates.Add(rate);
                cpuPerMsg.Add(cpu);
                cpuTotal += after.CpuMicros - before.CpuMicros;
                rounds.Add(new JsonObject
                {
                    ["elapsed_ms"] = RunResult.Num(elapsed.TotalMilliseconds, 3),
                    ["msgs_per_sec"] = RunResult.Num(rate),
                    ["server_cpu_us"] = after.CpuMicros - before.CpuMicros,
                    ["server_cpu_us_per_msg"] = RunResult.Num(cpu, 4),
                    ["server_elapsed_ms"] = RunResult.Num(reply.ServerElapsedMs, 3),
                    ["server_rss_kib"] = after.RssKib,
                });
            }

            // Nothing more than asked for should arrive: give stragglers a moment, then check the totals.
            await Task.Delay(200, ct);
            var expected = (long)(o.WarmupRepeats + o.Repeats) * k;
            var extra = 0;
            foreach (var s in subscribers)
            {
                if (s!.Received != expected)
                {
                    extra++;
                }
            }

            if (extra > 0)
            {
                throw new InvalidDataException($"{extra} subscribers received a count other than {expected} messages in total");
            }

            var rss = probe.ReadRssKib();
            var medianRate = Stats.Median(rates);
            var medianCpu = Stats.Median(cpuPerMsg);
            Console.WriteLine($"delivered    {delivered} per repeat; median {medianRate:0} msg/s (min {rates.Min():0}, max {rates.Max():0}), median {Stats.Median(elapsedMs):0.0} ms");
            Console.WriteLine($"server cpu   median {medianCpu:0.000} us/msg (min {cpuPerMsg.Min():0.000}, max {cpuPerMsg.Max():0.000}), CLK_TCK {probe.ClockTicks} ({probe.ClockTicksSource})");
            Console.WriteLine($"server rss   {rss} KiB");

            var result = new RunResult(o);
            result.Json["messages"] = k;
            result.Json["size"] = o.Size;
            result.Json["repeats"] = o.Repeats;
            result.Json["warmup_repeats"] = o.WarmupRepeats;
            result.Json["server_pid"] = probe.Pid;
            result.Json["delivered_per_repeat"] = delivered;
            result.Set("msgs_per_sec", medianRate);
            result.Set("msgs_per_sec_min", rates.Min());
            result.Set("msgs_per_sec_max", rates.Max());
            result.Set("elapsed_ms", Stats.Median(elapsedMs), 3);
            result.Set("server_cpu_us_per_msg", medianCpu, 4);
            result.Set("server_cpu_us_per_msg_min", cpuPerMsg.Min(), 4);
            result.Set("server_cpu_us_per_msg_max", cpuPerMsg.Max(), 4);
            // All repeats pooled: total CPU / total deliveries, less affected by the 1/CLK_TCK granularity.
            result.Json["server_cpu_us_total"] = cpuTotal;
            result.Set("server_cpu_us_per_msg_pooled", (double)cpuTotal / (delivered * o.Repeats), 4);
            result.Json["server_rss_kib"] = rss;
            result.Json["clk_tck"] = probe.ClockTicks;
            result.Json["rounds"] = rounds;
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

            await Connector.CloseAllAsync(sockets, WhenAll(loops), TimeSpan.FromSeconds(5));
        }
    }

    internal static Task WhenAll(Task?[] tasks)
    {
        var list = new List<Task>(tasks.Length);
        foreach (var t in tasks)
        {
            if (t is not null)
            {
                list.Add(t);
            }
        }

        return Task.WhenAll(list);
    }
}

/// <summary>Counts subscribers that reached the round's target; completes with the timestamp of the last one.</summary>
public sealed class FanoutSink : DeliverySink
{
    private TaskCompletionSource<long> _done = new();
    private int _remaining;
    private long _target = long.MaxValue;
    private volatile Exception? _closed;

    public int Remaining => Volatile.Read(ref _remaining);

    /// <summary>Arms the next round; call before the broadcast that makes every subscriber reach <paramref name="target"/>.</summary>
    public Task<long> Arm(long target, int subscribers)
    {
        _done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_closed is not null)
        {
            _done.TrySetException(_closed);
        }

        Volatile.Write(ref _remaining, subscribers);
        Volatile.Write(ref _target, target);
        return _done.Task;
    }

    public override void OnDelivered(Subscriber subscriber, long before, long after)
    {
        var target = Volatile.Read(ref _target);
        if (before < target && after >= target && Interlocked.Decrement(ref _remaining) == 0)
        {
            _done.TrySetResult(Stopwatch.GetTimestamp());
        }
    }

    public override void OnClosed(Subscriber subscriber, Exception? error)
    {
        var e = new InvalidOperationException(
            $"subscriber {subscriber.Index} closed during the run: {error?.Message ?? "close frame from the server"}");
        _closed ??= e;
        _done.TrySetException(e);
    }
}
