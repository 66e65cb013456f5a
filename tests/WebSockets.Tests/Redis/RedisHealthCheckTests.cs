using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>The Redis backplane's health check, over HTTP, while its private redis-server is killed and restarted.</summary>
public sealed class RedisHealthCheckTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task RedisKilled_HealthIsUnhealthy_ThenHealthyAgainOnceRedisIsBack()
    {
        await using var host = await TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry().AddRedisBackplane(_redis.Configuration, o =>
                {
                    o.ChannelPrefix = RedisCluster.NewPrefix();
                    o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
                    o.PresenceTtl = TimeSpan.FromSeconds(2);
                });
                s.AddHealthChecks().AddSocketRegistry().AddRedisBackplane();
            },
            app =>
            {
                app.MapWebSocketEndpoint("/ws", (string text) => text);
                app.MapHealthChecks("/health");
            });
        using var http = new HttpClient { BaseAddress = host.BaseUri };
        var health = host.Services.GetRequiredService<HealthCheckService>();

        await Poll.UntilAsync(() => GetAsync(http), r => r == (HttpStatusCode.OK, "Healthy"), "GET /health to be Healthy");
        var report = await health.CheckHealthAsync().DefaultTimeout();
        var redis = report.Entries["websockets-redis"];
        Assert.Equal(true, redis.Data["connected"]);
        Assert.Equal(true, redis.Data["subscribed"]);
        Assert.Equal($"127.0.0.1:{_redis.Port}", redis.Data["endpoint"]);
        Assert.True(report.Entries["websockets"].Data["clustered"] is true);

        await _redis.KillAsync();
        await Poll.UntilAsync(() => GetAsync(http), r => r == (HttpStatusCode.ServiceUnavailable, "Unhealthy"), "GET /health to be Unhealthy with Redis down");
        report = await health.CheckHealthAsync().DefaultTimeout();
        Assert.Equal(HealthStatus.Healthy, report.Entries["websockets"].Status);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["websockets-redis"].Status);
        Assert.Contains("Redis", report.Entries["websockets-redis"].Description);

        await _redis.RestartAsync();
        await Poll.UntilAsync(() => GetAsync(http), r => r == (HttpStatusCode.OK, "Healthy"), "GET /health to be Healthy again once Redis is back");
    }

    [Fact]
    public async Task WithoutTheRedisBackplane_TheRedisCheckSaysWhatIsMissing()
    {
        await using var host = await TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry();
                s.AddHealthChecks().AddRedisBackplane();
            },
            app => app.MapHealthChecks("/health"));

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().DefaultTimeout();
        var entry = report.Entries["websockets-redis"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("AddRedisBackplane", entry.Description);
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/health");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
