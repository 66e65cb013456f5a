using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace LoadGen;

/// <summary>
/// idle: opens N subscribers in S equal steps; after each, waits until the server counts them, lets the
/// RSS settle and reads VmRSS. Reports the points and the least-squares slope in KiB per connection.
/// </summary>
public static class IdleScenario
{
    public static async Task<int> RunAsync(Options o, ServerProbe probe, Connector connector, CancellationToken ct)
    {
        var n = o.Connections;
        var uri = connector.WebSocketUri("/ws/broadcast");
        var subscribers = new Subscriber?[n];
        var sockets = new ClientWebSocket?[n];
        var loops = new Task?[n];
        var sink = new NullSink();
        var settle = TimeSpan.FromSeconds(o.SettleSeconds);
        using var keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task? keepAlive = null;

        Console.WriteLine($"idle: {uri}, {n} connections in {o.Steps} steps, settle {o.SettleSeconds} s");
        try
        {
            if (o.Target == Target.SignalR)
            {
                keepAlive = HubKeepAlive.RunAsync(subscribers, keepAliveStop.Token);
            }

            // Subscribers that are not ours (normally none) are counted on top.
            var others = (await probe.BroadcastAsync(0, 0, ct)).Recipients;
            await Task.Delay(settle, ct);
            var baseline = probe.ReadRssKib();
            Console.WriteLine($"step 0: 0 connections, rss {baseline} KiB");
            var points = new List<(double X, double Y)>();
            var json = new JsonArray { new JsonObject { ["connections"] = 0, ["rss_kib"] = baseline } };

            var open = 0;
            for (var step = 1; step <= o.Steps; step++)
            {
                var to = (int)((long)n * step / o.Steps);
                var report = await connector.ConnectManyAsync(open, to, async (i, token) =>
                {
                    var hub = o.Target == Target.SignalR ? new HubScanner() : null;
                    var buffer = new byte[512];
                    var ws = await connector.ConnectAsync(uri, 1024, hub, buffer, token);
                    sockets[i] = ws;
                    var s = new Subscriber(i, ws, hub, buffer);
                    subscribers[i] = s;
                    loops[i] = s.RunAsync(sink);
                }, stopOnError: true, ct);
                if (report.Failed > 0)
                {
                    throw new InvalidOperationException($"{report.Failed} connections failed in step {step}: {report.FirstError?.Message}", report.FirstError);
                }

                open = to;
                await probe.WaitForRecipientsAsync(others + open, TimeSpan.FromSeconds(60), ct);
                await Task.Delay(settle, ct);
                var rss = probe.ReadRssKib();
                points.Add((open, rss));
                json.Add(new JsonObject { ["connections"] = open, ["rss_kib"] = rss });
                Console.WriteLine($"step {step}: {open} connections (opened in {report.Elapsed.TotalSeconds:0.00} s), rss {rss} KiB, {(rss - baseline) / (double)open:0.00} KiB/conn over baseline");
            }

            var slope = Stats.Slope(points);
            var withBaseline = new List<(double X, double Y)>(points) { (0, baseline) };
            var slopeWithBaseline = Stats.Slope(withBaseline);
            var last = points[^1].Y;
            Console.WriteLine($"slope        {slope:0.000} KiB/conn over the steps ({slopeWithBaseline:0.000} including the 0-connection baseline)");
            Console.WriteLine($"server rss   {baseline} -> {last} KiB");

            var result = new RunResult(o);
            result.Json["steps"] = o.Steps;
            result.Set("settle_s", o.SettleSeconds, 3);
            result.Json["server_pid"] = probe.Pid;
            result.Json["server_rss_kib_baseline"] = baseline;
            result.Json["other_recipients"] = others;
            result.Json["server_rss_kib"] = (long)last;
            result.Set("kib_per_conn", slope, 4);
            result.Set("kib_per_conn_incl_baseline", slopeWithBaseline, 4);
            result.Json["points"] = json;
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
