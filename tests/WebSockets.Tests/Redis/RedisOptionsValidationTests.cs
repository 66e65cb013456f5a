using WebSockets.Redis;
using WebSockets.Redis.Internal;

namespace WebSockets.Tests.Redis;

/// <summary>
/// Regression (review): the options had no upper bound. A HeartbeatInterval or PresenceTtl above ~49.7 days made the
/// heartbeat's PeriodicTimer or WaitAsync throw, and a PresenceTtl under 1 ms wrote PEXPIRE 0, which deletes every key.
/// </summary>
public sealed class RedisOptionsValidationTests
{
    public static TheoryData<double, double> Valid => new()
    {
        { 100, 200 },                                   // the shortest heartbeat, the shortest TTL
        { 5_000, 15_000 },                              // the defaults
        { TimeSpan.FromHours(1).TotalMilliseconds, TimeSpan.FromDays(1).TotalMilliseconds },   // the longest
    };

    public static TheoryData<double, double, string[]> Invalid => new()
    {
        { 0, 15_000, [nameof(RedisBackplaneOptions.HeartbeatInterval)] },
        { 99, 15_000, [nameof(RedisBackplaneOptions.HeartbeatInterval)] },
        { 0.0001, 0.0005, [nameof(RedisBackplaneOptions.HeartbeatInterval), nameof(RedisBackplaneOptions.PresenceTtl)] },   // was PEXPIRE 0
        { TimeSpan.FromHours(1).TotalMilliseconds + 1, TimeSpan.FromDays(1).TotalMilliseconds, [nameof(RedisBackplaneOptions.HeartbeatInterval)] },
        { TimeSpan.FromDays(30).TotalMilliseconds, TimeSpan.FromDays(60).TotalMilliseconds, [nameof(RedisBackplaneOptions.HeartbeatInterval), nameof(RedisBackplaneOptions.PresenceTtl)] },
        { 5_000, TimeSpan.FromDays(1).TotalMilliseconds + 1, [nameof(RedisBackplaneOptions.PresenceTtl)] },
        { 5_000, TimeSpan.FromDays(60).TotalMilliseconds, [nameof(RedisBackplaneOptions.PresenceTtl)] },
        { 5_000, 9_999, [nameof(RedisBackplaneOptions.PresenceTtl)] },
        { 5_000, -1, [nameof(RedisBackplaneOptions.PresenceTtl)] },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void BoundsAreInclusive(double heartbeatMs, double ttlMs)
    {
        var result = Validate(heartbeatMs, ttlMs);
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void OutOfBounds_FailsWithTheOptionsNamed(double heartbeatMs, double ttlMs, string[] named)
    {
        var result = Validate(heartbeatMs, ttlMs);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(named.Length, failures.Count);
        foreach (var option in named)
        {
            Assert.Contains(failures, f => f.StartsWith(option, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void MaxValues_AreRejected_WithoutOverflowing()
    {
        var result = new RedisBackplaneOptionsValidator().Validate(null, new RedisBackplaneOptions { HeartbeatInterval = TimeSpan.MaxValue, PresenceTtl = TimeSpan.MaxValue });
        Assert.Equal(2, result.Failures!.Count());
    }

    private static Microsoft.Extensions.Options.ValidateOptionsResult Validate(double heartbeatMs, double ttlMs)
        => new RedisBackplaneOptionsValidator().Validate(null, new RedisBackplaneOptions
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(heartbeatMs),
            PresenceTtl = TimeSpan.FromMilliseconds(ttlMs),
        });
}
