using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Cluster;

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
}
