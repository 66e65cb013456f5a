using System.Net.WebSockets;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace WebSockets.Tests.Hardening;

/// <summary>
/// Part of issue 8 point 8: application code that throws, many times over and at once, while other connections keep
/// being served. (Single throwing hooks and handlers are covered in LifecycleTests and EventProtocolTests.)
/// </summary>
public sealed class FaultTests(ITestOutputHelper output)
{
    /// <summary>
    /// 300 connections, 30 at a time: every third connect hook throws (closed 1011), every fifth disconnect hook throws,
    /// and each surviving connection sends an event whose handler throws, then a request. The failing ones get 1011 or a
    /// handler_failed notice; the others get their reply; each disconnect hook runs once; the registry ends empty; and a
    /// well-behaved client keeps a p99 under <see cref="HostileFrameTests.P99BoundMs"/> ms.
    /// </summary>
    [Fact]
    [Trait("Category", "stress")]
    public async Task ThrowingHooksAndHandlers_ManyAtOnce_OnlyTheirConnectionsSuffer()
    {
        const int Connections = 300;
        var hooks = new HookCounter { Queue = false };
        await using var host = await HostileServer.StartAsync(hooks, ns: ns =>
        {
            ns.OnConnected((c, _) => c.Query["fail"] == "1" ? throw new InvalidOperationException("connect hook failed on purpose") : Task.CompletedTask);
            ns.OnDisconnected((c, _, _) => c.Query["dfail"] == "1" ? throw new InvalidOperationException("disconnect hook failed on purpose") : Task.CompletedTask);
            ns.On("boom", (Func<string>)(() => throw new InvalidOperationException("handler failed on purpose")));
        });
        await using var probe = await EchoProbe.StartAsync(host);
        await probe.WaitForMoreAsync(10);
        var warmUp = probe.Count;

        var refused = 0;
        var served = 0;
        await Parallel.ForAsync(0, Connections, new ParallelOptions { MaxDegreeOfParallelism = 30 }, async (i, _) =>
        {
            using var client = await host.ConnectAsync($"/ws/events?fail={(i % 3 == 0 ? 1 : 0)}&dfail={(i % 5 == 0 ? 1 : 0)}");
            if (i % 3 == 0)
            {
                Assert.Equal(WebSocketMessageType.Close, (await client.ReceiveMessageAsync()).Type);
                Assert.Equal(WebSocketCloseStatus.InternalServerError, client.CloseStatus);
                Interlocked.Increment(ref refused);
                return;
            }

            await client.SendTextAsync("{\"event\":\"boom\"}");
            var first = await client.ReceiveMessageAsync();
            Assert.Equal("handler_failed", first.Json.GetProperty("data").GetProperty("code").GetString());
            var events = new EventClient(client, "c");
            Assert.Equal("pong", (await events.RequestAsync("ping", null)).GetProperty("data").GetString());
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
            Interlocked.Increment(ref served);
        });

        await hooks.AllEndedAsync(TimeSpan.FromSeconds(30));
        var latency = await probe.StopAsync(skip: warmUp);
        var disconnectFailures = host.Logs.WithEventName("DisconnectedHookFailed").Count();
        output.WriteLine($"{Connections} connections: {refused} refused by their connect hook, {served} served past a throwing handler; " +
            $"{disconnectFailures} disconnect hooks threw; probe {latency}");
        Assert.Equal(Connections / 3, refused);
        Assert.Equal(Connections - (Connections / 3), served);
        Assert.Equal(Connections / 5, disconnectFailures);
        Assert.Equal(Connections, hooks.TotalDisconnected);
        Assert.Empty(hooks.DisconnectedTwice);
        await HostileServer.AssertNothingLeftAsync(host, baseline: 0);
        Assert.Equal(0, latency.Failures);
        Assert.True(latency.P99 < HostileFrameTests.P99BoundMs, latency.ToString());
    }
}
