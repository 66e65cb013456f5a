// Samples of docs/migrating-from-signalr.md. The SignalR side compiles too: SignalR is part of the ASP.NET Core
// shared framework.
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using WebSockets;

namespace DocsSnippets.Migrating;

#region migrating-hub
[Authorize]
public sealed class ChatHub : Hub
{
    public override async Task OnConnectedAsync()
    {
        await Groups.AddToGroupAsync(Context.ConnectionId, "lobby");
        await Clients.Caller.SendAsync("welcome", Context.ConnectionId);
    }

    public Task SendMessage(string room, string text)
        => Clients.OthersInGroup(room).SendAsync("message", Context.UserIdentifier, text);

    public int Add(int a, int b) => a + b;

    public override Task OnDisconnectedAsync(Exception? exception) => Task.CompletedTask;
}
#endregion

#region migrating-controller
[Authorize]
[SocketNamespace("chat")]
public sealed class ChatController(ISocketRegistry registry) : SocketController
{
    public override async Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        await Connection.JoinAsync("lobby");
        await Connection.EmitAsync("welcome", Connection.Id, cancellationToken);
    }

    // Event "sendMessage". One data parameter: the client sends {"room":…,"text":…}.
    public ValueTask SendMessage(SendMessageData data, CancellationToken cancellationToken)
        => registry.Rooms(data.Room).Except(Connection.Id)
            .EmitAsync("message", new { user = Connection.UserId, data.Text }, cancellationToken);

    public int Add(AddData data) => data.A + data.B; // request "add"; the return value is the reply

    public override Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed record SendMessageData(string Room, string Text);

public sealed record AddData(int A, int B);
#endregion

public static class MigratingProgram
{
    public static void SignalR(WebApplicationBuilder builder)
    {
        #region migrating-signalr-program
        builder.Services.AddSignalR(options => options.MaximumReceiveMessageSize = 64 * 1024);
        var app = builder.Build();
        app.MapHub<ChatHub>("/hubs/chat");
        #endregion
    }

    public static void Sockets(WebApplicationBuilder builder)
    {
        #region migrating-sockets-program
        builder.Services.AddSocketRegistry();
        var app = builder.Build();
        app.MapWebSocketController<ChatController>("/ws/chat", options => options.MaxMessageSize = 64 * 1024);
        #endregion
    }
}

#region migrating-hub-context
public sealed class HubNotifier(IHubContext<ChatHub> hub)
{
    public Task NotifyAsync(string userId, string text) => hub.Clients.User(userId).SendAsync("notify", text);
}
#endregion

#region migrating-registry
public sealed class SocketNotifier(ISocketRegistry registry)
{
    public ValueTask NotifyAsync(string userId, string text) => registry.Users(userId).EmitAsync("notify", text);
}
#endregion

public sealed class ClientResults
{
    #region migrating-client-results-hub
    public async Task<bool> ConfirmAsync(IHubContext<ChatHub> hub, string connectionId, CancellationToken ct)
        => await hub.Clients.Client(connectionId).InvokeAsync<bool>("confirm", "Leave the room?", ct);
    #endregion

    #region migrating-client-results-sockets
    public async Task<bool> ConfirmAsync(ISocketRegistry registry, string connectionId, CancellationToken ct)
        => registry.TryGetConnection(connectionId, out var connection) // this server only
            && await connection.RequestAsync<bool>("confirm", new { question = "Leave the room?" }, cancellationToken: ct);
    #endregion
}
