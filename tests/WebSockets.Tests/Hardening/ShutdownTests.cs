using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace WebSockets.Tests.Hardening;

/// <summary>Issue 8 point 6: stopping the host (what SIGTERM does) with many connections whose queues are full.</summary>
[Collection(HardeningCollection.Name)]
public sealed class ShutdownTests(ITestOutputHelper output)
{
    /// <summary>
    /// 100 connections each have 50 messages of 8 KiB queued (a 4 KiB receive window keeps most of them on the server)
    /// when the host stops with DrainTimeout 3 s. The 50 clients that read get all 50 messages in order and then 1001;
    /// the 50 that never read can't drain and are aborted once DrainTimeout has passed (asserted between 3 and 8 s).
    /// Every disconnect hook runs exactly once, with ServerShutdown, and the host has stopped within DrainTimeout + 5 s.
    /// </summary>
    [Fact]
    [Trait("Category", "stress")]
    public async Task HostStops_WithFullQueues_ReadersGetEverythingThen1001_StalledClientsAreAbortedAtDrainTimeout_HooksRunOnce()
    {
        const int Readers = 50;
        const int Stalled = 50;
        const int Queued = 50;
        const int Size = 8 * 1024;
        var drainTimeout = TimeSpan.FromSeconds(3);
        var hooks = new HookCounter { Queue = false };
        var endedAt = new System.Collections.Concurrent.ConcurrentDictionary<string, (DisconnectReason Reason, long At)>();
        await using var host = await HostileServer.StartAsync(
            hooks,
            options: o => o.DrainTimeout = drainTimeout,
            ns: ns => ns.OnDisconnected((c, reason, _) =>
            {
                endedAt[c.Id] = (reason, Stopwatch.GetTimestamp());
                return Task.CompletedTask;
            }));

        var readers = new List<RawWebSocketClient>();
        var stalled = new List<RawWebSocketClient>();
        try
        {
            for (var i = 0; i < Readers + Stalled; i++)
            {
                (i % 2 == 0 ? readers : stalled).Add(await host.ConnectRawAsync("/ws/raw", receiveBufferSize: 4096));
            }

            // Serialized once, queued to everyone: 50 broadcasts of 8 KiB.
            var filler = new string('x', Size - 3);
            for (var m = 0; m < Queued; m++)
            {
                await host.Registry.BroadcastAsync(SocketMessage.Text(m.ToString("D3", CultureInfo.InvariantCulture) + filler), HostileServer.Hostile).DefaultTimeout();
            }

            var queued = host.Registry.GetConnections(HostileServer.Hostile).Sum(c => ((SocketConnection)c).QueuedMessages);
            Assert.True(queued > (Readers + Stalled) * Queued / 2, $"Only {queued} messages were still queued at shutdown.");

            var started = Stopwatch.GetTimestamp();
            var stopping = host.StopAsync();
            var reading = readers.Select(ReadAllThenCloseAsync).ToArray();
            await Task.WhenAll(reading).WaitAsync(TimeSpan.FromSeconds(30));
            await stopping.WaitAsync(TimeSpan.FromSeconds(30));
            var stopped = Stopwatch.GetElapsedTime(started);

            var stalledEnds = endedAt.Values.Where(e => e.Reason == DisconnectReason.ServerShutdown).Select(e => Stopwatch.GetElapsedTime(started, e.At)).OrderBy(t => t).ToArray();
            output.WriteLine($"{queued} messages queued over {Readers + Stalled} connections at shutdown; host stopped in {stopped.TotalSeconds:F2} s " +
                $"(DrainTimeout {drainTimeout.TotalSeconds} s); readers done by {reading.Max(r => r.Result).TotalSeconds:F2} s; last hook at {stalledEnds[^1].TotalSeconds:F2} s");

            Assert.All(reading, r => Assert.True(r.IsCompletedSuccessfully));
            Assert.Equal(Readers + Stalled, hooks.TotalDisconnected);
            Assert.Empty(hooks.DisconnectedTwice);
            Assert.Empty(hooks.NotDisconnected);
            Assert.All(endedAt.Values, e => Assert.Equal(DisconnectReason.ServerShutdown, e.Reason));
            Assert.InRange(stalledEnds[^1].TotalSeconds, drainTimeout.TotalSeconds - 0.2, drainTimeout.TotalSeconds + 5);
            Assert.True(stopped < drainTimeout + TimeSpan.FromSeconds(5), $"The host took {stopped} to stop.");
            Assert.Equal(0, host.Registry.Count);
            Assert.Equal(0, host.RegistryInternal.ReservedCount);
        }
        finally
        {
            foreach (var client in readers.Concat(stalled))
            {
                client.Reset();
            }
        }

        async Task<TimeSpan> ReadAllThenCloseAsync(RawWebSocketClient client)
        {
            var began = Stopwatch.GetTimestamp();
            for (var m = 0; m < Queued; m++)
            {
                var frame = await client.ReceiveDataFrameAsync().DefaultTimeout();
                Assert.Equal(RawOpcode.Text, frame.Opcode);
                Assert.Equal(m.ToString("D3", CultureInfo.InvariantCulture), Encoding.UTF8.GetString(frame.Payload, 0, 3));
            }

            var close = await client.ReceiveDataFrameAsync().DefaultTimeout();
            Assert.Equal((ushort)WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
            await client.SendCloseAsync((ushort)WebSocketCloseStatus.EndpointUnavailable).DefaultTimeout();
            return Stopwatch.GetElapsedTime(began);
        }
    }
}
