using Microsoft.Extensions.Options;

namespace WebSockets.Redis.Internal;

/// <summary>Checks every option and reports all failures together.</summary>
internal sealed class RedisBackplaneOptionsValidator : IValidateOptions<RedisBackplaneOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisBackplaneOptions options)
    {
        var failures = new List<string>();
        RedisEndpoint.Parse(options.Configuration, failures);
        if (string.IsNullOrEmpty(options.ChannelPrefix) || options.ChannelPrefix.Any(c => c is '{' or '}' || char.IsWhiteSpace(c)))
        {
            failures.Add($"{nameof(RedisBackplaneOptions.ChannelPrefix)} must not be empty nor contain braces or white space; it is '{options.ChannelPrefix}'.");
        }

        if (options.HeartbeatInterval <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(RedisBackplaneOptions.HeartbeatInterval)} must be positive; it is {options.HeartbeatInterval}.");
        }

        if (options.PresenceTtl < options.HeartbeatInterval * 2 || options.PresenceTtl <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(RedisBackplaneOptions.PresenceTtl)} must be at least twice {nameof(RedisBackplaneOptions.HeartbeatInterval)} ({options.HeartbeatInterval}); it is {options.PresenceTtl}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
