using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Cluster;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>The whole backplane contract on the Redis backplane, against a real redis-server of each test's own.</summary>
public sealed class RedisBackplaneContractTests : BackplaneContractTests, IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    // The cluster name is the channel prefix: servers of one test share a cluster, tests don't.
    protected override void AddBackplane(ISocketRegistryBuilder builder, string cluster)
        => builder.AddRedisBackplane(_redis.Configuration, o =>
        {
            o.ChannelPrefix = cluster;
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
            o.PresenceTtl = TimeSpan.FromSeconds(5);
        });

    /// <summary>
    /// Replaces the base test of the same name, which expects the emits of two servers to arrive everywhere in the
    /// order they were made. Over Redis, order holds per publishing server only: the second server's own member gets
    /// its local emit at once, before the first server's emit has crossed Redis. Same check, with the first emit
    /// awaited before the second is made.
    /// </summary>
#pragma warning disable xUnit1024 // Hides the base test on purpose, so that this version runs instead of it.
    [Fact]
    public new async Task RoomEmit_ReachesMembersOnEveryServer_AndNoOneElse()
    {
        var cluster = "c" + Guid.NewGuid().ToString("N")[..12];
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");
        using var outsider = await ConnectAsync(two, "outsider");
        await JoinAsync(a, "lobby");
        await JoinAsync(b, "lobby");

        await one.Registry.Rooms("lobby").EmitAsync("news", new { n = 1 }).DefaultTimeout();
        foreach (var member in new[] { a, b })
        {
            Assert.Equal(1, (await member.NextEventAsync("news")).GetProperty("n").GetInt32());
        }

        await two.Registry.Rooms("lobby").EmitAsync("news", new { n = 2 }).DefaultTimeout();
        foreach (var member in new[] { a, b })
        {
            Assert.Equal(2, (await member.NextEventAsync("news")).GetProperty("n").GetInt32());
        }

        await AssertNothingBeforeAsync(one, outsider);
    }
#pragma warning restore xUnit1024
}
