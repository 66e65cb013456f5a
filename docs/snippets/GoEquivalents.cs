// Samples of docs/go-equivalents.md.
using System.Text.Json;
using WebSockets;
using WebSockets.Client;

namespace DocsSnippets.GoEquivalents;

public static class SocketRegistryService
{
    public static void Program(WebApplicationBuilder builder)
    {
        #region go-registry
        builder.Services.AddSocketRegistry(options =>
            {
                options.SendQueueCapacity = 256; // the Send channel's 256 slots (also the default)
                options.ConnectionIdGenerator = http =>
                    $"{http.User.FindFirst("sub")?.Value}:{http.Request.Query["device"]}:{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
            })
            .AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns
                .OnConnected((socket, ct) => Task.CompletedTask)               // registerHandler
                .OnDisconnected((socket, reason, ct) => Task.CompletedTask));  // unregisterHandler

        var app = builder.Build();
        // Upgrade, Register <- socket, go WritePump(), go ReadPump(callback): all done by the endpoint.
        app.MapWebSocketEndpoint("/ws", (DtoMessage dto, ISocketConnection socket, ISocketRegistry registry) =>
        {
            // json.Unmarshal failed? The client already got a bad_json or bad_data error notice; this never ran.
            if (registry.TryGetConnection(dto.To, out var target)) // Sockets.Load(ID)
            {
                return target.SendAsync(dto);                       // Emit(dto): JSON in a text frame
            }

            return socket.SendAsync(new { error = "not here" });
        });
        app.Run();
        #endregion
    }
}

public sealed record DtoMessage(string To, string Text);

public static class GoFr
{
    public static void Handler(WebApplicationBuilder builder)
    {
        #region go-gofr-handler
        builder.Services.AddSocketRegistry();
        var app = builder.Build();

        // app.WebSocket("/ws", WSHandler), with the upgrader options of websocket.NewWSUpgrader(...)
        app.MapWebSocketEndpoint("/ws", async (string message, ISocketConnection socket, ILogger<Program> logger) =>
        {
            logger.LogInformation("Received message: {Message}", message); // ctx.Logger.Infof
            await socket.SendAsync("Hello! GoFr");                       // ctx.WriteMessageToSocket("Hello! GoFr")
            return message;                                               // return message, nil
        }, options =>
        {
            options.HandshakeTimeout = TimeSpan.FromSeconds(5);           // WithHandshakeTimeout(5*time.Second)
            options.ReceiveBufferSize = 2048;                             // WithReadBufferSize(2048)
            options.SubProtocols.Add("chat");                             // WithSubprotocols("chat", "binary")
            options.SubProtocols.Add("binary");
            options.EnableCompression = true;                             // WithCompression()
        });
        app.Run();
        #endregion
    }

    public static void Service(WebApplicationBuilder builder)
    {
        #region go-gofr-service
        // app.AddWSService("notification-service", "ws://notifications.example.com/ws", nil, true, 5*time.Second)
        builder.Services.AddWebSocketService("notification-service", new Uri("ws://notifications.example.com/ws"), options =>
        {
            options.Protocol = SocketClientProtocol.Raw; // a plain peer, not the event protocol
            options.Reconnect = true;
            options.RetryInterval = TimeSpan.FromSeconds(5);
        });

        var app = builder.Build();
        app.MapPost("/send-notification", async (IWebSocketServices services) =>
        {
            var message = new Dictionary<string, string>
            {
                ["title"] = "New Message",
                ["content"] = "You have a new notification!",
            };
            await services.WriteMessageToServiceAsync("notification-service", message); // ctx.WriteMessageToService
            return "Notification sent successfully!";
        });
        app.Run();
        #endregion
    }

    public sealed class Program;
}

public static class Neffos
{
    public static void Events(WebApplicationBuilder builder)
    {
        #region go-neffos-events
        // neffos.New(upgrader, neffos.Namespaces{"default": neffos.Events{"chat": onChat}})
        builder.Services.AddSocketRegistry(options =>
                options.ConnectionIdGenerator = http => http.Request.Query["id"].ToString()) // websocket.Handler(ws, idGenerator)
            .AddNamespace("default", ns => ns
                .On("chat", (ISocketConnection socket, JsonElement body) =>
                {
                    // websocket.GetContext(ns.Conn): what the upgrade request carried
                    var user = socket.User.Identity?.Name;
                    var agent = socket.Headers.UserAgent.ToString();
                    return socket.BroadcastAsync("chat", new { user, agent, body }); // every other connection
                }));

        var app = builder.Build();
        app.MapWebSocketEndpoint("/websocket_endpoint", "default"); // app.Get("/websocket_endpoint", websocket.Handler(ws))
        app.Run();
        #endregion
    }

    public static void Controller(WebApplicationBuilder builder)
    {
        #region go-neffos-controller-map
        builder.Services.AddSingleton<IMyLogger, PrefixedLogger>(); // mvcApp.Register(&prefixedLogger{prefix: "DEV"})
        builder.Services.AddSocketRegistry();

        var app = builder.Build();
        app.MapWebSocketController<WebsocketController>("/websocket_endpoint"); // mvcApp.HandleWebsocket(...) + websocket.Handler(...)
        app.Run();
        #endregion
    }
}

#region go-neffos-controller
[SocketNamespace("default")] // the Namespace field
public sealed class WebsocketController(IMyLogger logger) : SocketController // Connection replaces *neffos.NSConn
{
    public override Task OnConnectedAsync(CancellationToken cancellationToken) // OnNamespaceConnected
    {
        logger.Log($"{Connection.Id} connected");
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken) // OnNamespaceDisconnect
    {
        logger.Log($"{Connection.Id} left: {reason}");
        return Task.CompletedTask;
    }

    [SocketEvent("OnChat")] // without it, the event would be "onChat"
    public ValueTask OnChat(JsonElement msg, CancellationToken cancellationToken)
        => Connection.BroadcastAsync("OnChat", msg, cancellationToken);
}
#endregion

public interface IMyLogger
{
    void Log(string message);
}

public sealed class PrefixedLogger : IMyLogger
{
    public void Log(string message) => Console.WriteLine($"DEV: {message}");
}

public static class GoTools
{
    public static void Program(WebApplicationBuilder builder)
    {
        #region go-tools-hooks
        // cluster.Channel("my-channel", redis): a room, shared by every server through the Redis backplane
        builder.Services.AddSocketRegistry()
            .AddRedisBackplane("redis:6379")
            .AddNamespace("app", ns => ns
                .OnConnected(async (socket, ct) =>                                  // client.On(ws.CONNECTED, …)
                {
                    await socket.JoinAsync("my-channel");                           // channel.RegisterClient(userID, client)
                    await socket.EmitAsync("app.connected", ct);                    // client.Send("app.connected", nil)
                    await socket.BroadcastAsync("participants.connected", new { Id = socket.UserId }, ct); // client.Broadcast
                })
                .OnDisconnected((socket, reason, ct) =>                             // client.On(ws.DISCONNECTED, …)
                    socket.BroadcastAsync("participants.disconnected", new { Id = socket.UserId }, ct).AsTask())
                .OnError((socket, error, ct) =>                                     // client.OnError(…)
                {
                    Console.WriteLine($"{socket.Id}: {error.Code} {error.Message}");
                    return Task.CompletedTask;
                })
                .On("chats.msg", (ChatsMsg msg, ISocketConnection socket) =>        // client.HandleMessage("chats.msg", …)
                    socket.BroadcastAsync("chats.msg", msg)));

        var app = builder.Build();
        app.MapWebSocketEndpoint("/ws", "app").RequireAuthorization(); // ws.NewUpgradeHandler(…), wrapped in auth middleware
        app.Run();
        #endregion
    }
}

public sealed record ChatsMsg(string Text);

#region go-tools-channel
public sealed class MyChannel(ISocketRegistry registry)
{
    public async Task ExamplesAsync(ISocketConnection client, string anotherId, object payload)
    {
        await registry.Users(anotherId).EmitAsync("event.name", payload);          // channel.Send("<anotherID>", …)
        await registry.Rooms("my-channel").EmitAsync("event.name", payload);       // channel.Broadcast(…)
        await registry.Rooms("my-channel").Local().EmitAsync("event.name", payload); // channel.BroadcastLocal(…)
        await client.LeaveAsync("my-channel");                                     // channel.UnregisterClient("<userID>")
        await client.EmitAsync("event.name", payload);                             // client.Send(…)
        await client.CloseAsync();                                                 // client.Disconnect(): leaves every room
        await registry.Rooms("my-channel").DisconnectAsync();                      // channel.Disconnect()
    }
}
#endregion

public static class AoConcepts
{
    public static void Program(WebApplicationBuilder builder)
    {
        #region go-ao-subscribe
        builder.Services.AddSocketRegistry()                                   // websockets.New(cnt)
            .AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns
                .UseBatch("event:name", TimeSpan.FromSeconds(1))              // server.UseBatch("event:name", time.Second)
                .On("event:name", async (ISocketConnection c, JsonElement payload, ISocketRegistry registry) => // server.Subscribe
                {
                    Console.WriteLine(payload.GetProperty("value"));            // msg.Payload["value"]
                    c.Session.Set("key", "value");                               // c.Set("key", "value")
                    var value = c.Session.Get<string>("key");                     // c.Get("key")
                    await c.EmitAsync("event:name", new { value = "data" });     // c.SendMessage(&Message{…})
                    await registry.Namespace(c.Namespace)                         // c.SendMessage(&Message{…}, filter)
                        .Where(other => other.Session.Get<bool>("key"))
                        .EmitAsync("event:name", new { value });
                }));

        var app = builder.Build();
        app.MapWebSocketEndpoint("/ws", SocketRegistryOptions.DefaultNamespace); // app.Get("/ws", s.Handler)
        app.Run();
        #endregion
    }
}
