using System.Globalization;

namespace WebSockets.Redis.Internal;

/// <summary>
/// Where and how to connect, parsed from <see cref="RedisBackplaneOptions.Configuration"/>: <c>host[:port]</c>
/// followed by comma-separated <c>key=value</c> settings.
/// </summary>
internal sealed record RedisEndpoint(
    string Host,
    int Port,
    string? User,
    string? Password,
    bool Ssl,
    string? SslHost,
    TimeSpan ConnectTimeout,
    int Database)
{
    public const int DefaultPort = 6379;

    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Parses a configuration string; every problem found is added to <paramref name="failures"/>.</summary>
    public static RedisEndpoint? Parse(string? configuration, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(configuration))
        {
            failures.Add($"{nameof(RedisBackplaneOptions.Configuration)} must name a Redis server, such as \"localhost:6379\".");
            return null;
        }

        string? host = null;
        var port = DefaultPort;
        string? user = null, password = null, sslHost = null;
        var ssl = false;
        var connectTimeout = DefaultConnectTimeout;
        var database = 0;
        var start = failures.Count;
        foreach (var raw in configuration.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = raw.IndexOf('=');
            if (eq < 0)
            {
                if (host is not null)
                {
                    failures.Add($"{nameof(RedisBackplaneOptions.Configuration)} names more than one server ('{host}' and '{raw}'); the backplane connects to one.");
                    continue;
                }

                (host, port) = ParseHostPort(raw, failures);
                continue;
            }

            var key = raw[..eq].Trim();
            var value = raw[(eq + 1)..].Trim();
            switch (key.ToLowerInvariant())
            {
                case "user":
                    user = value;
                    break;
                case "password":
                    password = value;
                    break;
                case "ssl":
                    if (!bool.TryParse(value, out ssl))
                    {
                        failures.Add($"{nameof(RedisBackplaneOptions.Configuration)}: ssl must be true or false; it is '{value}'.");
                    }

                    break;
                case "sslhost":
                    sslHost = value;
                    break;
                case "connecttimeout":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms < 1)
                    {
                        failures.Add($"{nameof(RedisBackplaneOptions.Configuration)}: connectTimeout must be a positive number of milliseconds; it is '{value}'.");
                    }
                    else
                    {
                        connectTimeout = TimeSpan.FromMilliseconds(ms);
                    }

                    break;
                case "defaultdatabase":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out database))
                    {
                        failures.Add($"{nameof(RedisBackplaneOptions.Configuration)}: defaultDatabase must be a number from 0; it is '{value}'.");
                    }

                    break;
                default:
                    failures.Add($"{nameof(RedisBackplaneOptions.Configuration)}: unknown setting '{key}'. Known: user, password, ssl, sslHost, connectTimeout, defaultDatabase.");
                    break;
            }
        }

        if (host is null)
        {
            failures.Add($"{nameof(RedisBackplaneOptions.Configuration)} must name a Redis server, such as \"localhost:6379\".");
        }

        return failures.Count > start ? null : new RedisEndpoint(host!, port, user, password, ssl, sslHost, connectTimeout, database);
    }

    private static (string Host, int Port) ParseHostPort(string value, List<string> failures)
    {
        // [::1]:6379, host:6379, host, or a bare IPv6 address.
        var colon = value.LastIndexOf(':');
        var bracketed = value.StartsWith('[');
        if (colon < 0 || (!bracketed && value.IndexOf(':') != colon) || (bracketed && colon < value.IndexOf(']')))
        {
            return (value.Trim('[', ']'), DefaultPort);
        }

        if (!int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            failures.Add($"{nameof(RedisBackplaneOptions.Configuration)}: '{value}' has no valid port.");
            return (value, DefaultPort);
        }

        return (value[..colon].Trim('[', ']'), port);
    }

    public override string ToString() => $"{Host}:{Port}";
}
