using Microsoft.Extensions.Options;

namespace WebSockets.Internal;

/// <summary>Checks every option and reports all failures together.</summary>
internal sealed class SocketRegistryOptionsValidator : IValidateOptions<SocketRegistryOptions>
{
    internal const int MaxSendQueueCapacity = 1 << 20;

    public ValidateOptionsResult Validate(string? name, SocketRegistryOptions options)
    {
        var failures = new List<string>();
        if (options.SendQueueCapacity is < 1 or > MaxSendQueueCapacity)
        {
            failures.Add($"{nameof(SocketRegistryOptions.SendQueueCapacity)} must be between 1 and {MaxSendQueueCapacity}; it is {options.SendQueueCapacity}.");
        }

        if (!Enum.IsDefined(options.SendQueueFullMode))
        {
            failures.Add($"{nameof(SocketRegistryOptions.SendQueueFullMode)} has an unknown value {(int)options.SendQueueFullMode}.");
        }

        RequirePositive(failures, nameof(SocketRegistryOptions.CloseTimeout), options.CloseTimeout);
        RequirePositive(failures, nameof(SocketRegistryOptions.DrainTimeout), options.DrainTimeout);
        RequirePositive(failures, nameof(SocketRegistryOptions.RequestTimeout), options.RequestTimeout);
        RequirePositive(failures, nameof(SocketRegistryOptions.ClusterQueryTimeout), options.ClusterQueryTimeout);
        if (options.MaxRoomsPerConnection < 1)
        {
            failures.Add($"{nameof(SocketRegistryOptions.MaxRoomsPerConnection)} must be positive; it is {options.MaxRoomsPerConnection}.");
        }

        RequirePositiveOrNull(failures, nameof(SocketRegistryOptions.MaxConnections), options.MaxConnections);
        RequirePositiveOrNull(failures, nameof(SocketRegistryOptions.MaxConnectionsPerUser), options.MaxConnectionsPerUser);
        RequirePositiveOrNull(failures, nameof(SocketRegistryOptions.MaxConnectionsPerIpAddress), options.MaxConnectionsPerIpAddress);

        if (options.JsonSerializerOptions is null)
        {
            failures.Add($"{nameof(SocketRegistryOptions.JsonSerializerOptions)} must not be null.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Validates endpoint options when an endpoint is mapped; returns every failure.</summary>
    public static List<string> Validate(WebSocketEndpointOptions options)
    {
        var failures = new List<string>();
        RequirePositive(failures, nameof(WebSocketEndpointOptions.HandshakeTimeout), options.HandshakeTimeout);
        if (options.MaxMessageSize < 1)
        {
            failures.Add($"{nameof(WebSocketEndpointOptions.MaxMessageSize)} must be positive; it is {options.MaxMessageSize}.");
        }

        if (options.ReceiveBufferSize < 256 || options.ReceiveBufferSize > Math.Max(256, options.MaxMessageSize))
        {
            failures.Add($"{nameof(WebSocketEndpointOptions.ReceiveBufferSize)} must be between 256 and {nameof(WebSocketEndpointOptions.MaxMessageSize)} ({options.MaxMessageSize}); it is {options.ReceiveBufferSize}.");
        }

        if (options.KeepAliveInterval < TimeSpan.Zero)
        {
            failures.Add($"{nameof(WebSocketEndpointOptions.KeepAliveInterval)} must be zero (off) or positive; it is {options.KeepAliveInterval}.");
        }

        RequirePositiveOrInfinite(failures, nameof(WebSocketEndpointOptions.KeepAliveTimeout), options.KeepAliveTimeout);
        RequirePositiveOrInfinite(failures, nameof(WebSocketEndpointOptions.IdleTimeout), options.IdleTimeout);
        RequirePositiveOrInfinite(failures, nameof(WebSocketEndpointOptions.HandlerTimeout), options.HandlerTimeout);
        if (options.MaxPendingRequests is < 1 or > SocketConnection.MaxQueuedInvocations)
        {
            failures.Add($"{nameof(WebSocketEndpointOptions.MaxPendingRequests)} must be between 1 and {SocketConnection.MaxQueuedInvocations} (the messages that may wait behind a running handler); it is {options.MaxPendingRequests}.");
        }

        if (!Enum.IsDefined(options.MessageRateLimitMode))
        {
            failures.Add($"{nameof(WebSocketEndpointOptions.MessageRateLimitMode)} has an unknown value {(int)options.MessageRateLimitMode}.");
        }

        if (options.MessageRateLimit is { } rate)
        {
            if (rate.TokenLimit < 1)
            {
                failures.Add($"{nameof(WebSocketEndpointOptions.MessageRateLimit)}.{nameof(rate.TokenLimit)} (the burst) must be positive; it is {rate.TokenLimit}.");
            }

            if (rate.TokensPerPeriod < 1)
            {
                failures.Add($"{nameof(WebSocketEndpointOptions.MessageRateLimit)}.{nameof(rate.TokensPerPeriod)} must be positive; it is {rate.TokensPerPeriod}.");
            }

            RequirePositive(failures, $"{nameof(WebSocketEndpointOptions.MessageRateLimit)}.{nameof(rate.ReplenishmentPeriod)}", rate.ReplenishmentPeriod);
        }

        if (options.Namespace is { } ns && string.IsNullOrWhiteSpace(ns))
        {
            failures.Add($"{nameof(WebSocketEndpointOptions.Namespace)} must be null (the default namespace) or a non-empty name.");
        }

        foreach (var protocol in options.SubProtocols)
        {
            if (string.IsNullOrWhiteSpace(protocol) || protocol.Any(c => c <= ' ' || c >= 127 || c is ',' or ';' or '"'))
            {
                failures.Add($"Sub-protocol '{protocol}' is not a valid token.");
            }
        }

        foreach (var origin in options.AllowedOrigins)
        {
            if (origin != "*" && !Uri.TryCreate(origin, UriKind.Absolute, out _))
            {
                failures.Add($"Allowed origin '{origin}' must be \"*\" or an absolute origin such as https://app.example.com.");
            }
        }

        return failures;
    }

    private static void RequirePositive(List<string> failures, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{name} must be positive; it is {value}.");
        }
    }

    private static void RequirePositiveOrNull(List<string> failures, string name, int? value)
    {
        if (value < 1)
        {
            failures.Add($"{name} must be positive, or null for no limit; it is {value}.");
        }
    }

    private static void RequirePositiveOrInfinite(List<string> failures, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            failures.Add($"{name} must be positive or Timeout.InfiniteTimeSpan; it is {value}.");
        }
    }
}
