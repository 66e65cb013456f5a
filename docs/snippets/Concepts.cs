// Samples of docs/concepts.md.
using System.Net.WebSockets;
using Microsoft.AspNetCore.Authorization;
using WebSockets;

namespace DocsSnippets.Concepts;

#region concepts-registry-service
public sealed class ClockService(ISocketRegistry registry, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // Every connection of the "clock" namespace, on every server.
            await registry.Namespace("clock").EmitAsync("tick", time.GetUtcNow(), stoppingToken);
        }
    }
}
#endregion

public static class ConceptsProgram
{
    public static void Registry(WebApplication app)
    {
        #region concepts-registry-endpoint
        app.MapGet("/connections/{id}", (string id, ISocketRegistry registry) =>
            registry.TryGetConnection(id, out var connection)
                ? Results.Ok(new { connection.Id, connection.Namespace, connection.UserId, connection.Rooms })
                : Results.NotFound());
        #endregion
    }

    public static void Hooks(WebApplicationBuilder builder)
    {
        #region concepts-hooks
        builder.Services.AddSocketRegistry()
            .AddNamespace("game", ns => ns
                .OnConnected(async (socket, ct) =>
                {
                    socket.Session.Set("joinedAt", DateTimeOffset.UtcNow);
                    await socket.JoinAsync("lobby");
                    await socket.EmitAsync("welcome", new { socket.Id }, ct);
                })
                .OnDisconnected((socket, reason, ct) =>
                {
                    // socket.Rooms still lists the rooms it was in.
                    Console.WriteLine($"{socket.Id} left {string.Join(", ", socket.Rooms)}: {reason}");
                    return Task.CompletedTask;
                }));
        #endregion
    }

    public static void Requests(WebApplicationBuilder builder)
    {
        #region concepts-requests
        builder.Services.AddScoped<OrderService>();
        builder.Services.AddSocketRegistry()
            .AddNamespace("shop", ns => ns
                // The data binds to Order; OrderService comes from a scope created for this message.
                .On("order.place", async (Order order, OrderService orders, ISocketConnection socket, CancellationToken ct) =>
                {
                    if (order.Quantity <= 0)
                    {
                        // The client gets an error with this code and message; nothing is logged.
                        throw new SocketRequestException("bad_quantity", "Order at least one item.");
                    }

                    var id = await orders.PlaceAsync(order, socket.UserId, ct);
                    return new { id }; // the reply's data
                })
                // A handler may send a request to its own client and await the reply.
                .On("order.cancel", async (CancelOrder cancel, ISocketConnection socket, CancellationToken ct) =>
                {
                    var sure = await socket.RequestAsync<bool>("confirm", new { question = $"Cancel order {cancel.Id}?" }, TimeSpan.FromSeconds(30), ct);
                    return sure ? "cancelled" : "kept";
                }));
        #endregion
    }

    public static void Rooms(WebApplicationBuilder builder)
    {
        #region concepts-client-rooms
        builder.Services.AddSocketRegistry()
            .AddNamespace("chat", ns => ns
                // Clients may send $join and $leave; every join is put to this callback first.
                .AllowClientRooms((socket, room, ct) =>
                    ValueTask.FromResult(!room.StartsWith("staff-", StringComparison.Ordinal) || socket.User.IsInRole("staff"))));
        #endregion
    }

    public static void Backpressure(WebApplicationBuilder builder, WebApplication app)
    {
        #region concepts-backpressure
        builder.Services.AddSocketRegistry(options =>
        {
            options.SendQueueCapacity = 1024;                       // messages per connection; the default is 256
            options.SendQueueFullMode = SendQueueFullMode.DropOldest; // the default is Close
        });
        #endregion

        #region concepts-buffers
        app.MapWebSocketEndpoint("/ws/upload", "upload", options =>
        {
            options.ReceiveBufferSize = 16 * 1024;  // the first rented buffer; the default is 4 KiB
            options.MaxMessageSize = 1024 * 1024;   // the buffer grows up to this; the default is 64 KiB
        });
        #endregion
    }

    public static void Batching(WebApplicationBuilder builder)
    {
        #region concepts-batching
        builder.Services.AddSocketRegistry()
            .AddNamespace("prices", ns => ns
                // Clients get {"event":"batch_price.tick","data":[…]} every 250 ms, or as soon as 100 items wait.
                .UseBatch("price.tick", TimeSpan.FromMilliseconds(250), maxItems: 100));
        #endregion
    }

    public static void Session(WebApplicationBuilder builder)
    {
        #region concepts-session
        builder.Services.AddSocketRegistry(options => options.PublicSessionItems.Add("name"))
            .AddNamespace("chat", ns => ns
                .OnConnected((socket, ct) =>
                {
                    socket.Session.Set("name", socket.Query["name"].ToString()); // public: presence shows it
                    socket.Session.Set("lang", socket.Query["lang"].ToString()); // private: never leaves the server
                    return Task.CompletedTask;
                })
                .On("greet", (SocketSession session) => session.Get<string>("lang") == "fr" ? "bonjour" : "hello"));
        #endregion
    }

    public static void Backplane(WebApplicationBuilder builder)
    {
        #region concepts-backplane
        builder.Services.AddSocketRegistry()
            .AddRedisBackplane("redis.internal:6379", options => options.ChannelPrefix = "chat-app");
        #endregion
    }

    public static void Shutdown(WebApplicationBuilder builder)
    {
        #region concepts-shutdown
        // The host's own limit for stopping; the registry's drain must fit inside it.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSocketRegistry(options => options.DrainTimeout = TimeSpan.FromSeconds(20));
        #endregion
    }
}

#region concepts-price-emit
public sealed class PriceFeed(ISocketRegistry registry)
{
    public ValueTask PublishAsync(PriceTick tick, CancellationToken cancellationToken)
        // Joins each connection's batch instead of being sent at once.
        => registry.Namespace("prices").EmitAsync("price.tick", tick, cancellationToken);
}

public sealed record PriceTick(string Symbol, decimal Price);
#endregion

#region concepts-audiences
public sealed class Notifier(ISocketRegistry registry)
{
    public async Task ShowAsync(ISocketConnection sender, Alert alert, CancellationToken ct)
    {
        await sender.JoinAsync("lobby");
        await registry.Rooms("lobby").Except(sender.Id).EmitAsync("alert", alert, ct); // the room, but not the sender
        await registry.Users("alice", "bob").EmitAsync("alert", alert, ct);           // every tab and device of two users
        await registry.Connections(sender.Id).EmitAsync("alert", alert, ct);          // one connection, on any server
        await registry.Namespace("chat").Local().EmitAsync("alert", alert, ct);       // this server's connections only
        await registry.All.EmitAsync("alert", alert, ct);                              // everyone, everywhere
        await registry.Namespace("chat")
            .Where(c => c.Session.Get<string>("lang") == "fr")                         // code: this server only
            .EmitAsync("alert", alert with { Text = "Bonjour" }, ct);
        await registry.Rooms("game-42").DisconnectAsync(WebSocketCloseStatus.NormalClosure, "Game over");
        await sender.LeaveAsync("lobby");
    }
}

public sealed record Alert(string Text);
#endregion

#region concepts-controller
[SocketNamespace("rooms")]
[Authorize] // every event of the controller needs an authenticated user
public sealed class RoomsController(ISocketRegistry registry) : SocketController
{
    [SocketEvent("room.join")] // the event name, instead of "join"
    public async Task<string[]> JoinAsync(RoomRequest request)
    {
        await Connection.JoinAsync(request.Room);
        await registry.Rooms(request.Room).Except(Connection.Id).EmitAsync("joined", new { Connection.Id, request.Room });
        return [.. Connection.Rooms];
    }

    [Authorize(Roles = "admin")] // a user without the role gets the error "forbidden"
    public Task CloseRoomAsync(RoomRequest request) => registry.Rooms(request.Room).DisconnectAsync().AsTask();

    [SocketIgnore] // public, but not an event
    public string Describe(RoomRequest request) => $"{Connection.Id} in {request.Room}";

    public override Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken)
        => registry.Namespace("rooms").EmitAsync("left", new { Connection.Id, reason }, cancellationToken).AsTask();
}

public sealed record RoomRequest(string Room);
#endregion

public sealed record Order(string Sku, int Quantity);

public sealed record CancelOrder(string Id);

public sealed class OrderService
{
    public Task<string> PlaceAsync(Order order, string? userId, CancellationToken cancellationToken)
        => Task.FromResult($"{userId}-{order.Sku}-{order.Quantity}");
}
