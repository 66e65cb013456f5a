using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace WebSockets.Tests.Hardening;

/// <summary>Clients that hold connections without finishing anything: a slowloris handshake and half-open connections.</summary>
public sealed class SlowClientTests(ITestOutputHelper output)
{
    /// <summary>
    /// 50 clients dribble request headers, one byte every 250 ms. Kestrel's RequestHeadersTimeout (2 s here; 30 s by
    /// default) cuts each one within the timeout plus Kestrel's 1 s heartbeat (bound asserted: 2 to 6 s); none reaches
    /// the WebSocket endpoint, and a well-behaved client keeps its p99 under <see cref="HostileFrameTests.P99BoundMs"/> ms.
    /// </summary>
    [Fact]
    public async Task SlowlorisHandshake_IsCutByRequestHeadersTimeout_AndNeverRegisters()
    {
        const int Clients = 50;
        var headersTimeout = TimeSpan.FromSeconds(2);
        var hooks = new HookCounter();
        await using var host = await HostileServer.StartAsync(
            hooks,
            services: s => s.Configure<KestrelServerOptions>(k => k.Limits.RequestHeadersTimeout = headersTimeout));
        await using var probe = await EchoProbe.StartAsync(host);
        await probe.WaitForMoreAsync(10);
        var warmUp = probe.Count;

        var lifetimes = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => SlowlorisAsync(host.BaseUri)));

        var latency = await probe.StopAsync(skip: warmUp);
        output.WriteLine($"{Clients} slowloris clients cut after {lifetimes.Min().TotalSeconds:F2} to {lifetimes.Max().TotalSeconds:F2} s " +
            $"(RequestHeadersTimeout {headersTimeout.TotalSeconds} s); probe {latency}");
        Assert.All(lifetimes, t => Assert.InRange(t.TotalSeconds, headersTimeout.TotalSeconds - 0.5, headersTimeout.TotalSeconds + 4));
        Assert.Equal(0, hooks.TotalConnected);
        Assert.Equal(0, host.RegistryInternal.ReservedCount);
        Assert.True(latency.P99 < HostileFrameTests.P99BoundMs, latency.ToString());
    }

    /// <summary>
    /// 100 clients complete the upgrade, then vanish without a FIN: they never read or answer a ping. With
    /// KeepAliveInterval 500 ms and KeepAliveTimeout 1 s, every one is aborted as ConnectionLost within 6 s (bound),
    /// its disconnect hook runs once, and the registry is left empty.
    /// </summary>
    [Fact]
    public async Task HalfOpenConnections_AreAbortedByTheKeepAliveTimeout_AndLeaveNothing()
    {
        const int Clients = 100;
        var hooks = new HookCounter { Queue = false };
        var reasons = new System.Collections.Concurrent.ConcurrentBag<DisconnectReason>();
        await using var host = await HostileServer.StartAsync(
            hooks,
            endpoint: o =>
            {
                o.KeepAliveInterval = TimeSpan.FromMilliseconds(500);
                o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
            },
            ns: ns => ns.OnDisconnected((_, reason, _) =>
            {
                // Recorded by the hook, so that connections aborted while later ones still connect are seen too.
                reasons.Add(reason);
                return Task.CompletedTask;
            }));
        var clients = new List<RawWebSocketClient>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(await host.ConnectRawAsync("/ws/raw"));
            }

            var connected = Stopwatch.StartNew();

            await hooks.AllEndedAsync(TimeSpan.FromSeconds(6));
            output.WriteLine($"{Clients} half-open connections were all aborted {connected.Elapsed.TotalSeconds:F2} s after the last one connected.");
            Assert.Equal(Clients, hooks.TotalDisconnected);
            Assert.Empty(hooks.DisconnectedTwice);
            await Eventually.Until(() => Task.FromResult(reasons.Count), n => n == Clients, "every completion is seen");
            Assert.All(reasons, r => Assert.Equal(DisconnectReason.ConnectionLost, r));
            await HostileServer.AssertNothingLeftAsync(host, baseline: 0);
            Assert.Equal(0, host.RegistryInternal.ReservedCount);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Reset();
            }
        }
    }

    /// <summary>Sends the request line, then one header byte every 250 ms until the server closes; returns how long that took.</summary>
    private static async Task<TimeSpan> SlowlorisAsync(Uri baseUri)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, baseUri.Port));
        var started = Stopwatch.GetTimestamp();
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /ws/raw HTTP/1.1\r\nHost: {baseUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"), SocketFlags.None);
        var closed = WaitForCloseAsync(socket);
        var header = Encoding.ASCII.GetBytes("X-Slow: " + new string('a', 200));
        for (var i = 0; i < header.Length && !closed.IsCompleted; i++)
        {
            try
            {
                await socket.SendAsync(header.AsMemory(i, 1), SocketFlags.None);
            }
            catch (SocketException)
            {
                break;
            }

            await Task.WhenAny(closed, Task.Delay(250));
        }

        await closed.DefaultTimeout();
        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task WaitForCloseAsync(Socket socket)
    {
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
                // A 408 response may come first; the connection closes after it.
            }
        }
        catch (SocketException)
        {
        }
    }
}
