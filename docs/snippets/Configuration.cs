// Samples of docs/configuration.md.
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using WebSockets;
using WebSockets.Client;

namespace DocsSnippets.Configuration;

public static class ConfigurationProgram
{
    public static void Registry(WebApplicationBuilder builder)
    {
        #region configuration-registry
        builder.Services.AddSocketRegistry(options =>
        {
            options.SendQueueCapacity = 512;
            options.SendQueueFullMode = SendQueueFullMode.DropOldest;
            options.CloseTimeout = TimeSpan.FromSeconds(3);
            options.DrainTimeout = TimeSpan.FromSeconds(15);
            options.RequestTimeout = TimeSpan.FromSeconds(10);
            options.ConnectionIdGenerator = http => $"{http.User.Identity?.Name}-{Guid.NewGuid():N}";
            options.UserIdProvider = http => http.User.FindFirst("sub")?.Value;
            options.PublicSessionItems.Add("name");
            options.MaxRoomsPerConnection = 20;
            options.MaxConnections = 20_000;
            options.MaxConnectionsPerUser = 10;
            options.MaxConnectionsPerIpAddress = 100;
            options.ClusterQueryTimeout = TimeSpan.FromSeconds(1);
            options.EnableDetailedErrors = builder.Environment.IsDevelopment();
            options.JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerOptions.Web)
            {
                TypeInfoResolver = ChatJsonContext.Default, // source-generated serialization
            };
        });
        #endregion
    }

    public static void Endpoint(WebApplication app)
    {
        #region configuration-endpoint
        app.MapWebSocketEndpoint("/ws/chat", "chat", options =>
        {
            options.HandshakeTimeout = TimeSpan.FromSeconds(5);
            options.ReceiveBufferSize = 8 * 1024;
            options.MaxMessageSize = 256 * 1024;
            options.SubProtocols.Add("chat.v2");
            options.AllowedOrigins.Add("https://app.example.com");
            options.EnableCompression = false;
            options.KeepAliveInterval = TimeSpan.FromSeconds(20);
            options.KeepAliveTimeout = TimeSpan.FromSeconds(40);
            options.IdleTimeout = TimeSpan.FromMinutes(30);
            options.MessageRateLimit = new TokenBucketRateLimiterOptions
            {
                TokenLimit = 50,                                 // the burst
                TokensPerPeriod = 20,                            // the sustained rate: 20 messages…
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),   // …per second
            };
            options.MessageRateLimitMode = MessageRateLimitMode.Reject;
            options.MaxPendingRequests = 8;
            options.HandlerTimeout = TimeSpan.FromSeconds(15);
            options.CloseOnAuthenticationExpiration = true;
            options.TokenRefreshScheme = "Bearer";
            options.OnUpgradeFailed = failed => failed.HttpContext.Response.WriteAsync(failed.Reason);
        });
        #endregion

        #region configuration-origin-validator
        app.MapWebSocketEndpoint("/ws/embed", "embed", options =>
            options.OriginValidator = (http, origin) => origin.EndsWith(".example.com", StringComparison.OrdinalIgnoreCase));
        #endregion
    }

    public static void Redis(WebApplicationBuilder builder)
    {
        #region configuration-redis
        builder.Services.AddSocketRegistry()
            .AddRedisBackplane(options =>
            {
                options.Configuration = builder.Configuration["Redis"] ?? "localhost:6379";
                options.ChannelPrefix = "chat-app";
                options.HeartbeatInterval = TimeSpan.FromSeconds(5);
                options.PresenceTtl = TimeSpan.FromSeconds(15);
            });
        #endregion
    }

    public static SocketClient Client(ILoggerFactory loggerFactory)
    {
        #region configuration-client
        var options = new SocketClientOptions
        {
            Name = "chat",
            Protocol = SocketClientProtocol.Events,
            AccessTokenProvider = ct => ValueTask.FromResult<string?>(Environment.GetEnvironmentVariable("CHAT_TOKEN")),
            AccessTokenPlacement = AccessTokenPlacement.AuthorizationHeader,
            Reconnect = true,
            RetryInterval = TimeSpan.FromSeconds(1),
            MaxRetryDelay = TimeSpan.FromSeconds(30),
            RetryJitter = 0.2,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            OutboxCapacity = 1000,
            InboundCapacity = 10_000,
            MessageTimeToLive = TimeSpan.FromMinutes(1),
            RequestTimeout = TimeSpan.FromSeconds(30),
            CloseTimeout = TimeSpan.FromSeconds(5),
            MaxMessageSize = 1024 * 1024,
            KeepAliveInterval = TimeSpan.FromSeconds(15),
            KeepAliveTimeout = TimeSpan.FromSeconds(30),
            ConfigureWebSocket = ws => ws.HttpVersion = new Version(2, 0),
            LoggerFactory = loggerFactory,
        };
        options.Headers["X-Client"] = "worker";
        options.SubProtocols.Add("chat.v2");
        var client = new SocketClient(new Uri("wss://chat.example.com/ws/chat"), options);
        #endregion
        return client;
    }
}

public sealed record ChatLine(string Text, string From);

[JsonSerializable(typeof(ChatLine))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(string))]
public sealed partial class ChatJsonContext : JsonSerializerContext;
