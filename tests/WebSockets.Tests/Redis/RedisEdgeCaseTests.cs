using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using WebSockets.Redis.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>Edge cases found in review: hostile replies, script loss. Each test failed before its fix.</summary>
public sealed class RedisEdgeCaseTests
{
    /// <summary>Regression (review): an array header allocates its whole item array before a single item has arrived.</summary>
    [Fact]
    public void ArrayHeader_DoesNotAllocateForItemsThatHaveNotArrived()
    {
        var bytes = Encoding.ASCII.GetBytes("*100000000\r\n:1\r\n");
        var before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = null;
        try
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
            RedisProtocol.TryRead(ref reader, out _);
        }
        catch (Exception ex)
        {
            error = ex;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(error is null or InvalidDataException, error?.GetType().Name);
        Assert.True(allocated < 1_000_000, $"allocated {allocated:N0} bytes for a 16-byte input");
    }

    /// <summary>Regression (review): a hostile or broken peer announces a huge bulk string, or a line with no end: the connection waits (and buffers) forever.</summary>
    [Theory]
    [InlineData("$1073741824\r\nabc")]
    [InlineData("*2\r\n$2000000000\r\nabc")]
    [InlineData("+OK")]   // followed by 4 MiB without CRLF
    public async Task MalformedReply_FailsTheConnection_InsteadOfWaitingForever(string reply)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var buffer = new byte[4096];
            await socket.ReceiveAsync(buffer);
            await socket.SendAsync(Encoding.ASCII.GetBytes(reply));
            if (reply.StartsWith('+'))
            {
                var junk = new byte[64 * 1024];
                junk.AsSpan().Fill((byte)'a');
                for (var i = 0; i < 64; i++)
                {
                    await socket.SendAsync(junk);
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(30));
        });

        var failures = new List<string>();
        var endpoint = RedisEndpoint.Parse($"127.0.0.1:{port}", failures)!;
        await using var client = new RedisClient("test", endpoint, null, null, null, NullLogger.Instance, TimeProvider.System, TimeSpan.FromSeconds(5));
        client.Start();
        await client.FirstConnected.DefaultTimeout();
        var ping = client.ExecuteAsync("PING");
        var done = await Task.WhenAny(ping, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(done == ping, "the reply was still awaited after 5 s: the parser waits for data that a valid Redis never sends");
        await Assert.ThrowsAsync<RedisConnectionException>(() => ping);
    }

    /// <summary>Regression (review): after SCRIPT FLUSH, every pipelined EVALSHA gets NOSCRIPT and its EVAL retry is sent from its own continuation: presence writes land out of order.</summary>
    [Fact]
    public async Task AfterScriptFlush_PresenceWritesStayInOrder()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = new RedisCluster(redis, RedisCluster.NewPrefix(), o => o.HeartbeatInterval = TimeSpan.FromSeconds(2), null);
        var host = await cluster.StartServerAsync();
        var backplane = RedisCluster.Backplane(host);
        var serverId = RedisCluster.ServerId(host);
        var roomKey = backplane.ServerKeyBase(serverId) + ":room:r";
        var membersKey = backplane.ServerKeyBase(serverId) + ":members";

        for (var round = 0; round < 10; round++)
        {
            await redis.CommandAsync("SCRIPT", "FLUSH");
            const int N = 2000;
            for (var i = 0; i < N; i++)
            {
                var member = new SocketMember($"c{round}-{i}", RedisCluster.Chat, null, serverId, ["r"]);
                await backplane.SetMemberAsync(member, "r", null);
                await backplane.RemoveMemberAsync(member);
            }

            await Task.Delay(300);
        }

        // The heartbeat heals nothing here (no write failed, so no resync): ghosts left now stay until the server stops.
        await Poll.UntilAsync(
            async () => (await redis.CommandAsync("HLEN", membersKey)).Integer + (await redis.CommandAsync("SCARD", roomKey)).Integer,
            left => left == 0,
            "every member to be removed again",
            TimeSpan.FromSeconds(8)).ContinueWith(async t =>
            {
                if (t.IsFaulted)
                {
                    Assert.Fail($"ghosts: HLEN {(await redis.CommandAsync("HLEN", membersKey)).Integer}, SCARD {(await redis.CommandAsync("SCARD", roomKey)).Integer} of {10 * 2000} set-then-removed members");
                }
            }).Unwrap();
    }
}
