using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;
using static WebSockets.Tests.Hardening.HostileFrames;

namespace WebSockets.Tests.Hardening;

/// <summary>
/// Floods that are valid frame by frame: endless continuation fragments, ping floods, and JSON bombs on an events
/// endpoint. Memory stays bounded, the connection ends (or stays open for JSON errors) as docs/protocol.md says, and a
/// well-behaved client keeps a p99 under <see cref="HostileFrameTests.P99BoundMs"/> ms. Serial: they measure the process.
/// </summary>
[Collection(HardeningCollection.Name)]
public sealed class FloodTests(ITestOutputHelper output)
{
    private const int MaxMessageSize = 64 * 1024;

    [Fact]
    public async Task EndlessContinuationFragments_AreCutAtMaxMessageSizeWith1009()
    {
        const int Fragment = 1024;
        const int MaxFragments = 4096; // 4 MiB: the attack gives up by itself if the server never stops it
        var hooks = new HookCounter();
        await using var host = await HostileServer.StartAsync(hooks, endpoint: o => o.MaxMessageSize = MaxMessageSize);
        await using var probe = await EchoProbe.StartAsync(host);
        await probe.WaitForMoreAsync(10);
        var warmUp = probe.Count;

        await using var raw = await host.ConnectRawAsync("/ws/raw");
        var connection = (Internal.SocketConnection)await hooks.NextConnectedAsync();
        var closing = HostileFrameTests.ReadCloseAsync(raw);

        // Exactly the limit, in fragments that never end the message: nothing happens yet...
        var payload = Encoding.UTF8.GetBytes(new string('a', Fragment));
        for (var i = 0; i < MaxMessageSize / Fragment; i++)
        {
            await raw.Socket.SendAsync(i == 0 ? Frame(Text, payload, fin: false) : Frame(Continuation, payload, fin: false), SocketFlags.None);
        }

        // ...one more byte than the limit allows, and the server closes without waiting for more.
        await raw.Socket.SendAsync(Frame(Continuation, "a"u8, fin: false), SocketFlags.None);
        var sent = (long)MaxMessageSize + 1;

        // The attacker goes on regardless, up to 4 MiB; the server reads none of it.
        for (var i = 0; i < MaxFragments && !closing.IsCompleted; i++)
        {
            try
            {
                await raw.Socket.SendAsync(Frame(Continuation, payload, fin: false), SocketFlags.None);
                sent += Fragment;
            }
            catch (SocketException)
            {
                break; // the server closed the connection
            }
        }

        Assert.Equal((ushort)1009, await closing);
        var ended = await hooks.NextEndedAsync();
        Assert.Equal(DisconnectReason.MessageTooBig, ended.Reason);
        Assert.False(connection.HoldsReceiveBuffer);
        await HostileServer.AssertNothingLeftAsync(host, baseline: 1);
        var latency = await probe.StopAsync(skip: warmUp);
        output.WriteLine($"Continuation flood: closed 1009 once {MaxMessageSize + 1} bytes had arrived; the attacker had written {sent / 1024} KiB by then; probe {latency}");
        Assert.True(latency.P99 < HostileFrameTests.P99BoundMs, latency.ToString());
    }

    [Fact]
    [Trait("Category", "stress")]
    public async Task PingFlood_FromAClientThatNeverReads_IsHeldBackByTcpNotQueuedPongs()
    {
        const int PingsPerChunk = 100;
        const long GiveUpBytes = 256L * 1024 * 1024; // a server queuing pongs without bound would let the client get here
        var hooks = new HookCounter();
        await using var host = await HostileServer.StartAsync(hooks);
        await using var probe = await EchoProbe.StartAsync(host);
        await probe.WaitForMoreAsync(10);
        var warmUp = probe.Count;

        // A small receive window, so that the server's pongs back up quickly.
        await using var raw = await host.ConnectRawAsync("/ws/raw", receiveBufferSize: 4096);
        var connection = await hooks.NextConnectedAsync();
        var chunk = Concat([.. Enumerable.Range(0, PingsPerChunk).Select(_ => Frame(Ping, new byte[125]))]);
        var before = Memory();
        var sent = 0L;
        var peak = 0L;
        while (sent < GiveUpBytes)
        {
            // The server pushes back when a 13 KB chunk can't be written within 2 s: it stopped reading.
            using var stalled = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await raw.Socket.SendAsync(chunk, SocketFlags.None, stalled.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            sent += chunk.Length;
            if (sent % (chunk.Length * 100L) == 0)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false) - before.Managed);
            }
        }

        var after = Memory();
        var latency = await probe.StopAsync(skip: warmUp);
        output.WriteLine($"Ping flood: {sent / 1024} KiB of pings ({sent / 131} pings) accepted before TCP pushed back; " +
            $"managed memory {Mb(after.Managed - before.Managed)} MB after GC (peak seen {Mb(peak)} MB), working set {Mb(after.WorkingSet - before.WorkingSet)} MB; probe {latency}");
        Assert.True(sent < GiveUpBytes, "The server kept reading pings without the client ever reading a pong.");
        Assert.True(after.Managed - before.Managed < 16 * 1024 * 1024, $"Managed memory grew {Mb(after.Managed - before.Managed)} MB.");
        Assert.True(latency.P99 < HostileFrameTests.P99BoundMs, latency.ToString());

        raw.Reset();
        var ended = await hooks.NextEndedAsync();
        Assert.Same(connection, ended.Connection);
        await HostileServer.AssertNothingLeftAsync(host, baseline: 0);
    }

    [Fact]
    public async Task JsonNested10000Deep_GetsBadJsonNotice_AndTheConnectionStaysOpen()
    {
        var hooks = new HookCounter();
        await using var host = await HostileServer.StartAsync(hooks);
        using var client = await host.ConnectAsync("/ws/events");
        var bomb = "{\"event\":\"count\",\"data\":" + new string('[', 10_000) + new string(']', 10_000) + "}";
        Assert.True(Encoding.UTF8.GetByteCount(bomb) < MaxMessageSize);

        await client.SendTextAsync(bomb);
        var notice = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("error", notice.GetProperty("event").GetString());
        Assert.Equal("bad_json", notice.GetProperty("data").GetProperty("code").GetString());

        // Unknown members are skipped by the same reader: a bomb there is refused too.
        await client.SendTextAsync("{\"event\":\"ping\",\"x\":" + new string('[', 10_000) + new string(']', 10_000) + ",\"id\":1}");
        Assert.Equal("bad_json", (await client.ReceiveMessageAsync()).Json.GetProperty("data").GetProperty("code").GetString());

        var events = new EventClient(client, "c");
        Assert.Equal("pong", (await events.RequestAsync("ping", null)).GetProperty("data").GetString());
        Assert.Equal(0, hooks.TotalDisconnected);
    }

    [Fact]
    [Trait("Category", "stress")]
    public async Task JsonArrayOfAMillionElements_WithinARaisedLimit_IsHandled_AndOthersKeepTheirLatency()
    {
        const int Elements = 1_000_000;
        var hooks = new HookCounter();
        await using var host = await HostileServer.StartAsync(hooks, endpoint: o => o.MaxMessageSize = 4 * 1024 * 1024);
        using var client = await host.ConnectAsync("/ws/events");
        var events = new EventClient(client, "c");
        var array = "[" + string.Join(",", Enumerable.Repeat("1", Elements)) + "]";
        var before = Memory();

        // Memory first, alone (a full GC would pause the probe): the first request fills the pools (a 4 MiB receive
        // buffer, Kestrel's pipe blocks); the next ones must not add to them.
        var first = await CountAsync();
        var warm = Memory();
        var second = await CountAsync();
        var after = Memory();

        // Then latency: a well-behaved client round-trips while more bombs arrive.
        await using var probe = await EchoProbe.StartAsync(host);
        await probe.WaitForMoreAsync(10);
        var warmUp = probe.Count;
        var third = await CountAsync();

        // To an event that does not exist: the reader skips it and answers unknown_event.
        await client.SendTextAsync("{\"event\":\"nope\",\"data\":" + array + "}");
        Assert.Equal("unknown_event", (await client.ReceiveMessageAsync()).Json.GetProperty("data").GetProperty("code").GetString());
        await probe.WaitForMoreAsync(20);
        var latency = await probe.StopAsync(skip: warmUp);
        output.WriteLine($"A {Encoding.UTF8.GetByteCount(array) / 1024} KiB array of {Elements} elements: handled in {first.TotalMilliseconds:F0}, {second.TotalMilliseconds:F0}, {third.TotalMilliseconds:F0} ms; " +
            $"managed memory after GC: +{Mb(warm.Managed - before.Managed)} MB after the first (pools), {Mb(after.Managed - warm.Managed)} MB more after the second; probe {latency}");
        Assert.Equal(0, hooks.TotalDisconnected);
        // Pools (ArrayPool, Kestrel's blocks, the test's own 4 MB strings) make this figure swing by tens of MB from run to
        // run; the bound only catches a request that keeps what it parsed (several copies of the 2 MB message).
        Assert.True(after.Managed - warm.Managed < 64 * 1024 * 1024, $"Managed memory grew {Mb(after.Managed - warm.Managed)} MB after the pools were warm.");
        Assert.True(latency.P99 < HostileFrameTests.P99BoundMs, latency.ToString());

        async Task<TimeSpan> CountAsync()
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var reply = await events.RequestAsync("count", JsonDocument.Parse(array).RootElement);
            Assert.Equal(Elements, reply.GetProperty("data").GetInt32());
            return System.Diagnostics.Stopwatch.GetElapsedTime(started);
        }
    }
    internal static (long Managed, long WorkingSet) Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return (GC.GetTotalMemory(true), process.WorkingSet64);
    }

    internal static string Mb(long bytes) => (bytes / (1024.0 * 1024)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
}
