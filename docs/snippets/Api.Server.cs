// Samples of docs/api.md: the server package, WebSockets.
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using WebSockets;

namespace DocsSnippets.Api;

public static class ServerSetup
{
    public static void Registration(WebApplicationBuilder builder)
    {
        #region api-add-socket-registry
        ISocketRegistryBuilder sockets = builder.Services.AddSocketRegistry(options =>
        {
            options.SendQueueCapacity = 512;
            options.EnableDetailedErrors = builder.Environment.IsDevelopment();
        });

        sockets.AddNamespace("chat", ns => ns.On("ping", () => "pong"));
        sockets.AddNamespace("chat", ns => ns.OnConnected((socket, ct) => socket.EmitAsync("hello", ct).AsTask())); // adds to "chat"
        sockets.Services.AddSingleton(TimeProvider.System); // the IServiceCollection, for packages that extend the registry
        #endregion
    }

    public static void Endpoints(WebApplication app)
    {
        #region api-map-endpoints
        // Raw endpoints: every message goes to the handler, and its return value is sent back.
        app.MapWebSocketEndpoint("/ws/echo", (SocketMessage message) => message);
        app.MapWebSocketEndpoint("/ws/upper", (string text) => text.ToUpperInvariant(), options => options.MaxMessageSize = 4096);

        // Event endpoints: the namespace's handlers and hooks (docs/protocol.md).
        app.MapWebSocketEndpoint("/ws/chat", "chat");
        app.MapWebSocketEndpoint("/ws/chat-v2", "chat", options => options.SubProtocols.Add("chat.v2"));
        app.MapWebSocketEndpoint("/ws/default", options => options.KeepAliveInterval = TimeSpan.FromSeconds(30)); // namespace "default"

        // A controller: its namespace comes from [SocketNamespace].
        app.MapWebSocketController<ApiNotesController>("/ws/notes", options => options.IdleTimeout = TimeSpan.FromMinutes(10));

        // Each returns an IEndpointConventionBuilder.
        app.MapWebSocketEndpoint("/ws/admin", "admin").RequireAuthorization("admins");
        #endregion
    }

    public static void AccessToken(WebApplicationBuilder builder)
    {
        #region api-access-token
        builder.Services.AddAuthentication().AddJwtBearer(options => options.Events = new JwtBearerEvents
        {
            // Only for upgrades to this library's endpoints: ?access_token=… (WebSocketHttpContextExtensions.AccessTokenQueryParameter).
            OnMessageReceived = context =>
            {
                context.Token ??= context.HttpContext.GetWebSocketAccessToken();
                return Task.CompletedTask;
            },
        });
        #endregion
    }

    public static void Namespaces(WebApplicationBuilder builder)
    {
        #region api-namespace-builder
        builder.Services.AddSocketRegistry()
            .AddNamespace("orders", ns =>
            {
                Console.WriteLine($"Configuring {ns.Name}");
                ns.On("ping", () => "pong")                                         // any delegate; binds like a minimal API
                  .On<Order>("order.add", (socket, order, ct) => Task.CompletedTask) // typed data, no reply
                  .On<Order, Receipt>("order.place", (socket, order, ct) =>          // typed data and reply
                      Task.FromResult(new Receipt(order.Sku, DateTimeOffset.UtcNow)))
                  .On("purge", [Authorize(Roles = "admin")] () => "purged")          // per-event authorization
                  .OnBinary((byte[] data) => data.Length)                           // binary frames
                  .OnError((socket, error, ct) =>                                   // messages that failed
                  {
                      Console.WriteLine($"{socket.Id}: {error.Code} {error.EventName} {error.Message}");
                      return Task.CompletedTask;
                  })
                  .UseBatch("order.tick", TimeSpan.FromMilliseconds(200))           // sent as batch_order.tick
                  .AllowClientRooms((socket, room, ct) => ValueTask.FromResult(room.StartsWith("order-", StringComparison.Ordinal)))
                  .OnConnected((socket, ct) => socket.JoinAsync("orders").AsTask())
                  .OnDisconnected((socket, reason, ct) => Task.CompletedTask);
            });
        #endregion
    }

    public static void UpgradeFailed(WebApplication app)
    {
        #region api-upgrade-failed
        app.MapWebSocketEndpoint("/ws/chat", "chat", options => options.OnUpgradeFailed = async failed =>
        {
            // failed.StatusCode (403, 409, 426, 429 or 503) is already set on the response.
            await failed.HttpContext.Response.WriteAsJsonAsync(new { status = failed.StatusCode, error = failed.Reason });
        });
        #endregion
    }

    public static void Options(WebApplicationBuilder builder, WebApplication app)
    {
        #region api-options
        builder.Services.AddSocketRegistry(options => options.SendQueueFullMode = SendQueueFullMode.Wait);

        app.MapWebSocketEndpoint("/ws/feed", SocketRegistryOptions.DefaultNamespace, options =>
        {
            options.MessageRateLimit = new() { TokenLimit = 20, TokensPerPeriod = 10, ReplenishmentPeriod = TimeSpan.FromSeconds(1) };
            options.MessageRateLimitMode = MessageRateLimitMode.Close;
        });
        #endregion
    }

    public static void Disconnects(WebApplicationBuilder builder)
    {
        #region api-disconnect-reason
        builder.Services.AddSocketRegistry()
            .AddNamespace("chat", ns => ns.OnDisconnected((socket, reason, ct) =>
            {
                var why = reason switch
                {
                    DisconnectReason.ClientClosed => $"closed by the client ({socket.CloseStatus})",
                    DisconnectReason.ConnectionLost => "lost: reset, dropped network or no pong",
                    DisconnectReason.SlowConsumer => "its send queue was full",
                    DisconnectReason.ServerShutdown => "the server stopped",
                    _ => reason.ToString(),
                };
                Console.WriteLine($"{socket.Id}: {why}");
                return Task.CompletedTask;
            }));
        #endregion
    }
}

public static class ConnectionExamples
{
    public static async Task Identity(ISocketConnection socket)
    {
        #region api-connection-identity
        string id = socket.Id;                        // unique among live connections
        string ns = socket.Namespace;                 // "default" unless the endpoint names one
        string? userId = socket.UserId;               // from SocketRegistryOptions.UserIdProvider
        ClaimsPrincipal user = socket.User;           // the upgrade's user, or the latest $auth refresh's
        string? room = socket.Query["room"];          // the upgrade's query string, without access_token
        string? agent = socket.Headers.UserAgent;     // the upgrade's headers, without Authorization
        var address = socket.RemoteIpAddress;
        string? subProtocol = socket.SubProtocol;     // the negotiated sub-protocol, if any
        await socket.EmitAsync("whoami", new { id, ns, userId, name = user.Identity?.Name, room, agent, address = address?.ToString(), subProtocol });
        #endregion
    }

    public static async Task Sending(ISocketConnection socket, CancellationToken ct)
    {
        #region api-connection-send
        await socket.SendAsync("hello", ct);                                      // a text frame
        await socket.SendAsync(new byte[] { 1, 2, 3 }, ct);                       // a binary frame; the array is not copied
        await socket.SendAsync(new ReadOnlyMemory<byte>([4, 5, 6]), ct);          // a binary frame; the bytes are copied
        await socket.SendAsync(new { temperature = 21.5 }, ct);                   // JSON in a text frame
        await socket.SendAsync(SocketMessage.Text("prepared once"), ct);          // a prepared message, as it is
        #endregion
    }

    public static async Task Events(ISocketConnection socket, CancellationToken ct)
    {
        #region api-connection-events
        await socket.EmitAsync("news", new { headline = "Hello" }, ct);  // {"event":"news","data":{…}}
        await socket.EmitAsync("refresh", ct);                            // {"event":"refresh","data":null}
        await socket.BroadcastAsync("joined", new { socket.Id }, ct);     // every other connection of its namespace
        try
        {
            var name = await socket.RequestAsync<string>("ask.name", new { prompt = "Your name?" }, TimeSpan.FromSeconds(10), ct);
            await socket.EmitAsync("hi", name, ct);
        }
        catch (TimeoutException)
        {
            // no reply within 10 s (without a timeout: SocketRegistryOptions.RequestTimeout, 30 s)
        }
        catch (SocketRequestException e)
        {
            // the client replied with an error (e.Code), its reply did not bind (bad_data), or it left (connection_closed)
            Console.WriteLine($"{e.Code}: {e.Message}");
        }
        #endregion
    }

    public static async Task Rooms(ISocketConnection socket)
    {
        #region api-connection-rooms
        await socket.JoinAsync("lobby");                  // a no-op when already in it
        await socket.JoinAsync("team-7");
        IReadOnlyCollection<string> rooms = socket.Rooms; // a snapshot: lobby, team-7 (in no particular order)
        await socket.LeaveAsync("lobby");                 // a no-op when not in it
        Console.WriteLine(string.Join(", ", rooms));
        #endregion
    }

    public static async Task Lifetime(ISocketConnection socket, bool misbehaving)
    {
        #region api-connection-lifetime
        using var registration = socket.ConnectionClosed.Register(() => Console.WriteLine($"{socket.Id} ended"));
        if (!socket.IsOpen)
        {
            return; // closing or closed: sends are discarded
        }

        if (misbehaving)
        {
            socket.Abort(); // at once: no flush, no close frame
        }
        else
        {
            // Sends what is queued, then the close frame; aborts after SocketRegistryOptions.CloseTimeout.
            await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "Bye");
            Console.WriteLine($"{socket.CloseStatus} {socket.CloseStatusDescription}"); // PolicyViolation Bye
        }
        #endregion
    }

    public static void Session(ISocketConnection socket)
    {
        #region api-session
        SocketSession session = socket.Session;
        session.Set("score", 10);
        session.Set("name", "ann");
        int score = session.Get<int>("score");                   // 10; default(int) when missing or of another type
        bool named = session.TryGet<string>("name", out var name); // true, "ann"
        bool has = session.ContainsKey("score");                  // true
        bool removed = session.Remove("score");                   // true
        Console.WriteLine($"{score} {named} {name} {has} {removed} {session.Count}"); // Count: 1
        #endregion
    }

    public static async Task Messages(ISocketConnection socket)
    {
        #region api-message
        var text = SocketMessage.Text("hi");                                // UTF-8, encoded once
        var binary = SocketMessage.Binary(new byte[] { 1, 2, 3 });          // not copied
        var json = SocketMessage.Json(new { x = 1 });                       // JsonSerializerOptions.Web unless given
        var json2 = SocketMessage.Json(new { x = 1 }, new JsonSerializerOptions());
        var raw = new SocketMessage(WebSocketMessageType.Text, "{}"u8.ToArray());
        Console.WriteLine($"{text.IsText} {binary.MessageType} {json.GetText()} {json2.Data.Length}");
        Console.WriteLine(text == SocketMessage.Text("hi")); // false: equality compares the payload's memory, not its bytes
        await socket.SendAsync(raw);
        #endregion
    }
}

public static class RegistryExamples
{
    public static async Task Lookup(ISocketRegistry registry, CancellationToken ct)
    {
        #region api-registry-lookup
        Console.WriteLine($"{registry.Count} here, {registry.GetCount("chat")} in chat"); // this server only
        if (registry.TryGetConnection("3Jv1x0sVQ8uYxk2tq5w3xA", out var connection))
        {
            await connection.EmitAsync("poke", ct);
        }

        foreach (var c in registry.GetConnections("chat")) // no lock is held; null enumerates every namespace
        {
            Console.WriteLine($"{c.Id} {c.UserId}");
        }
        #endregion
    }

    public static async Task Broadcasts(ISocketRegistry registry, CancellationToken ct)
    {
        #region api-registry-broadcast
        await registry.BroadcastAsync("maintenance at 18:00", cancellationToken: ct);              // text, every namespace, every server
        await registry.BroadcastAsync(new { level = "warn" }, "chat", cancellationToken: ct);     // JSON, one namespace
        await registry.BroadcastAsync(SocketMessage.Binary(new byte[] { 0x01 }), "feed", c => c.UserId is not null, ct); // filtered: this server only
        await registry.BroadcastLocalAsync(SocketMessage.Text("this server only"), "chat", ct);
        #endregion
    }

    public static async Task ById(ISocketRegistry registry, string connectionId, CancellationToken ct)
    {
        #region api-registry-by-id
        bool here = await registry.EmitAsync(connectionId, "direct", new { text = "hi" }, ct);  // true: this server holds it
        bool here2 = await registry.SendAsync(connectionId, SocketMessage.Text("raw"), ct);
        // false: not here; with a backplane it went to the other servers, one of which may hold it.
        Console.WriteLine($"{here} {here2}");
        #endregion
    }

    public static async Task Audiences(ISocketRegistry registry, CancellationToken ct)
    {
        #region api-audience
        SocketAudience lobby = registry.Rooms("lobby", "hall");       // members of either room, each reached once
        await lobby.EmitAsync("chat.message", new { text = "hi" }, ct);
        await lobby.EmitAsync("refresh", ct);                           // data: null
        await lobby.SendAsync(SocketMessage.Text("raw text"), ct);
        await registry.Users("alice").Except("3Jv1x0sVQ8uYxk2tq5w3xA").EmitAsync("notice", "signed in elsewhere", ct);
        await registry.Namespace("chat").Local().EmitAsync("server.news", "this server only", ct);
        await registry.All.Where(c => c.Session.ContainsKey("beta")).EmitAsync("beta", "news", ct); // this server only
        await registry.Connections("3Jv1x0sVQ8uYxk2tq5w3xA", "k9Qv0y1Yx2mJ3p4L5n6o7Q").DisconnectAsync(WebSocketCloseStatus.PolicyViolation, "Banned");
        #endregion
    }

    public static async Task Presence(ISocketRegistry registry, CancellationToken ct)
    {
        #region api-presence
        ClusterResult<IReadOnlyList<SocketMember>> members = await registry.GetRoomMembersAsync("lobby", ct);
        foreach (SocketMember m in members.Value)
        {
            m.Items.TryGetValue("name", out var name); // a JsonElement, for names in PublicSessionItems
            Console.WriteLine($"{m.ConnectionId} {m.UserId} {m.Namespace} on {m.ServerId}, in {m.Rooms.Count} rooms: {name}");
        }

        if (!members.IsComplete)
        {
            Console.WriteLine($"missing: {string.Join(", ", members.MissingServers)}");
        }

        ClusterResult<IReadOnlyList<string>> rooms = await registry.GetRoomsAsync("3Jv1x0sVQ8uYxk2tq5w3xA", ct);
        ClusterResult<SocketCounts> counts = await registry.GetCountsAsync(ct);
        Console.WriteLine($"{rooms.Value.Count} rooms; {counts.Value.Connections} connections, {counts.Value.Namespaces.GetValueOrDefault("chat")} in chat, {counts.Value.Rooms.GetValueOrDefault("lobby")} in lobby");
        #endregion
    }
}

#region api-controller
[SocketNamespace("notes")]                  // without it: the "default" namespace
public sealed class ApiNotesController(ILogger<ApiNotesController> logger) : SocketController
{
    public string Echo(string text) => text;                  // event "echo"

    [SocketEvent("note.add")]                                 // event "note.add"
    public async Task<int> AddAsync(Note note, CancellationToken cancellationToken)
    {
        Session.Set("lastNote", note.Text);
        await Connection.BroadcastAsync("note.added", note, cancellationToken);
        return note.Text.Length;
    }

    [SocketIgnore]                                            // public, but not an event
    public void Reset() => Session.Remove("lastNote");

    public override Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("{Id} connected as {User} from {Query}", Connection.Id, User.Identity?.Name, Query["client"].ToString());
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken)
    {
        logger.LogInformation("{Id} left: {Reason}; agent {Agent}", Connection.Id, reason, Headers.UserAgent.ToString());
        return Task.CompletedTask;
    }
}
#endregion

public static class ErrorExamples
{
    public static void Refuse(WebApplicationBuilder builder)
    {
        #region api-request-exception
        builder.Services.AddSocketRegistry()
            .AddNamespace("rooms", ns => ns.On("room.enter", (RoomRequest request) =>
                request.Room.Length <= 32
                    ? request.Room
                    // {"reply":n,"error":{"code":"bad_room","message":"A room name has at most 32 characters."}}
                    : throw new SocketRequestException("bad_room", "A room name has at most 32 characters.")));
        #endregion
    }
}

public sealed record Order(string Sku, int Quantity);

public sealed record Receipt(string Sku, DateTimeOffset At);

public sealed record Note(string Text);

public sealed record RoomRequest(string Room);
