using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace WebSockets.Tests.Hardening;

/// <summary>Connections that come and go by the thousand must leave nothing behind.</summary>
[Collection(HardeningCollection.Name)]
public sealed class ChurnTests(ITestOutputHelper output)
{
    /// <summary>
    /// 10 000 connect/disconnect cycles, 100 at a time, on a namespace whose connect hook joins a room and sets a session
    /// item (public in presence): a third close cleanly, a third send a TCP reset, a third close the socket without a
    /// close frame. Afterwards: no registry entry, reserved ID, room, presence entry or timer is left, each hook ran
    /// exactly once per connection, and managed memory after a full GC is within 4 MB of what it was after a
    /// 1 000-cycle warm-up.
    /// </summary>
    [Fact]
    [Trait("Category", "stress")]
    public async Task TenThousandConnectDisconnectCycles_LeaveNoEntryRoomPresenceTimerOrMemoryBehind()
    {
        const int Cycles = 10_000;
        const int WarmUp = 1_000;
        const int Concurrency = 100;
        var hooks = new HookCounter { Queue = false };
        await using var host = await HostileServer.StartAsync(
            hooks,
            options: o => o.PublicSessionItems.Add("n"),
            ns: ns => ns.OnConnected(async (connection, _) =>
            {
                connection.Session.Set("n", connection.Id.Length);
                await connection.JoinAsync("room-" + (connection.Id[0] % 8));
            }),
            services: s => s.AddLogging(b => b.AddFilter<TestLoggerProvider>(null, LogLevel.Warning)));

        await RunCyclesAsync(host, WarmUp, Concurrency);
        await hooks.AllEndedAsync(TimeSpan.FromSeconds(30));
        var before = FloodTests.Memory();
        var timersBefore = Timer.ActiveCount;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();

        await RunCyclesAsync(host, Cycles, Concurrency);
        await hooks.AllEndedAsync(TimeSpan.FromSeconds(60));
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);

        // Connections leave the ID map just after their disconnect hooks: wait for the last ones.
        await Eventually.Until(() => Task.FromResult(host.RegistryInternal.ReservedCount), n => n == 0, "every connection ID is released");
        var after = FloodTests.Memory();
        var timersAfter = Timer.ActiveCount;
        output.WriteLine($"{Cycles} cycles ({Concurrency} at a time) in {elapsed.TotalSeconds:F1} s; managed memory {FloodTests.Mb(after.Managed - before.Managed)} MB, " +
            $"working set {FloodTests.Mb(after.WorkingSet - before.WorkingSet)} MB; timers {timersBefore} -> {timersAfter}; " +
            $"thread-pool queue {ThreadPool.PendingWorkItemCount}; hooks {hooks.TotalConnected}/{hooks.TotalDisconnected}");

        Assert.Equal(WarmUp + Cycles, hooks.TotalConnected);
        Assert.Equal(WarmUp + Cycles, hooks.TotalDisconnected);
        Assert.Empty(hooks.DisconnectedTwice);
        Assert.Empty(hooks.NotDisconnected);
        await HostileServer.AssertNothingLeftAsync(host, baseline: 0);
        Assert.Equal(0, host.RegistryInternal.ReservedCount);
        Assert.Empty((await host.Registry.GetRoomMembersAsync("room-1")).Value);
        Assert.True(timersAfter <= timersBefore + 8, $"Timers grew from {timersBefore} to {timersAfter}.");
        Assert.True(after.Managed - before.Managed < 4 * 1024 * 1024, $"Managed memory grew {FloodTests.Mb(after.Managed - before.Managed)} MB.");
    }

    private static async Task RunCyclesAsync(TestHost host, int cycles, int concurrency)
    {
        await Parallel.ForAsync(0, cycles, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, _) =>
        {
            var raw = await host.ConnectRawAsync("/ws/raw");
            switch (i % 3)
            {
                case 0:
                    // A clean close: the server answers the close frame.
                    await raw.SendCloseAsync((ushort)WebSocketCloseStatus.NormalClosure).DefaultTimeout();
                    Assert.Equal(RawOpcode.Close, (await raw.ReceiveDataFrameAsync().DefaultTimeout()).Opcode);
                    await raw.DisposeAsync();
                    break;
                case 1:
                    raw.Reset();
                    break;
                default:
                    await raw.DisposeAsync(); // FIN without a close frame
                    break;
            }
        });
    }
}
