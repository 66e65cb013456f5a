namespace WebSockets.Client.Internal;

/// <summary>Checks every option at once and reports all failures together.</summary>
internal static class SocketClientOptionsValidator
{
    public static List<string> Validate(Uri uri, SocketClientOptions options)
    {
        var errors = new List<string>();
        if (!uri.IsAbsoluteUri || uri.Scheme is not ("ws" or "wss" or "http" or "https"))
        {
            errors.Add($"The URI '{uri}' must be absolute with the scheme ws, wss, http or https.");
        }

        Positive(options.RetryInterval, nameof(options.RetryInterval));
        Positive(options.ConnectTimeout, nameof(options.ConnectTimeout));
        Positive(options.RequestTimeout, nameof(options.RequestTimeout));
        Positive(options.CloseTimeout, nameof(options.CloseTimeout));
        if (options.MaxRetryDelay < options.RetryInterval)
        {
            errors.Add($"MaxRetryDelay ({options.MaxRetryDelay}) must be at least RetryInterval ({options.RetryInterval}).");
        }

        if (options.RetryJitter is < 0 or > 1 || double.IsNaN(options.RetryJitter))
        {
            errors.Add($"RetryJitter must be between 0 and 1; it is {options.RetryJitter}.");
        }

        if (options.OutboxCapacity < 1)
        {
            errors.Add($"OutboxCapacity must be positive; it is {options.OutboxCapacity}.");
        }

        if (options.InboundCapacity < 1)
        {
            errors.Add($"InboundCapacity must be positive; it is {options.InboundCapacity}.");
        }

        if (options.MaxMessageSize < 1)
        {
            errors.Add($"MaxMessageSize must be positive; it is {options.MaxMessageSize}.");
        }

        if (options.MessageTimeToLive <= TimeSpan.Zero && options.MessageTimeToLive != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"MessageTimeToLive must be positive or Timeout.InfiniteTimeSpan; it is {options.MessageTimeToLive}.");
        }

        if (options.KeepAliveInterval < TimeSpan.Zero)
        {
            errors.Add($"KeepAliveInterval must not be negative; it is {options.KeepAliveInterval}.");
        }

        if (options.KeepAliveTimeout <= TimeSpan.Zero && options.KeepAliveTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"KeepAliveTimeout must be positive or Timeout.InfiniteTimeSpan; it is {options.KeepAliveTimeout}.");
        }

        if (string.IsNullOrEmpty(options.AccessTokenQueryName))
        {
            errors.Add("AccessTokenQueryName must not be empty.");
        }

        if (options.JsonSerializerOptions is null)
        {
            errors.Add("JsonSerializerOptions must not be null.");
        }

        if (options.TimeProvider is null)
        {
            errors.Add("TimeProvider must not be null.");
        }

        return errors;

        void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{name} must be positive; it is {value}.");
            }
        }
    }
}
