using Microsoft.Extensions.Options;

namespace WebSockets.Redis.Internal;

/// <summary>Checks every option and reports all failures together.</summary>
internal sealed class RedisBackplaneOptionsValidator : IValidateOptions<RedisBackplaneOptions>
{
    /// <summary>The shortest heartbeat interval: 100 ms.</summary>
    public static readonly TimeSpan MinHeartbeatInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest heartbeat interval: 1 hour (timers and waits can't exceed about 49.7 days).</summary>
    public static readonly TimeSpan MaxHeartbeatInterval = TimeSpan.FromHours(1);

    /// <summary>The longest presence TTL: 1 day.</summary>
    public static readonly TimeSpan MaxPresenceTtl = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, RedisBackplaneOptions options)
    {
        var failures = new List<string>();
        RedisEndpoint.Parse(options.Configuration, failures);
        if (string.IsNullOrEmpty(options.ChannelPrefix) || options.ChannelPrefix.Any(c => c is '{' or '}' || char.IsWhiteSpace(c)))
        {
            failures.Add($"{nameof(RedisBackplaneOptions.ChannelPrefix)} must not be empty nor contain braces or white space; it is '{options.ChannelPrefix}'.");
        }

        var heartbeat = options.HeartbeatInterval;
        if (heartbeat < MinHeartbeatInterval || heartbeat > MaxHeartbeatInterval)
        {
            failures.Add($"{nameof(RedisBackplaneOptions.HeartbeatInterval)} must be between {MinHeartbeatInterval} and {MaxHeartbeatInterval}; it is {heartbeat}.");
        }

        // Halved rather than doubled, which would overflow for a huge interval. At least 200 ms, so never PEXPIRE 0.
        var ttl = options.PresenceTtl;
        if (ttl > MaxPresenceTtl || ttl < MinHeartbeatInterval * 2 || ttl.Ticks / 2.0 < heartbeat.Ticks)
        {
            failures.Add($"{nameof(RedisBackplaneOptions.PresenceTtl)} must be at least twice {nameof(RedisBackplaneOptions.HeartbeatInterval)} ({heartbeat}) and at most {MaxPresenceTtl}; it is {ttl}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
