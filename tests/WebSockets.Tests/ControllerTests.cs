using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

public sealed record RoomJoin(string Room, string Name);

public sealed record RoomJoined(string Room, string Name, string ConnectionId, int Visits);

/// <summary>Records what the controllers in these tests did, across the per-message controller instances.</summary>
public sealed class ControllerJournal
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public ConcurrentQueue<Guid> ControllersDisposed { get; } = new();

    public TaskCompletionSource<DisconnectReason> Disconnected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A scoped service: one per message.</summary>
public sealed class PerMessageService
{
    public Guid Id { get; } = Guid.NewGuid();
}

[SocketNamespace("rooms")]
public sealed class RoomsController(ControllerJournal journal, PerMessageService perMessage) : SocketController, IDisposable
{
    private readonly Guid _instance = Guid.NewGuid();

    public override Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        journal.Entries.Enqueue($"connected:{Connection.Namespace}:{Query["nick"]}");
        Session.Set("nick", Query["nick"].ToString());
        return Connection.EmitAsync("welcome", new { id = Connection.Id }, cancellationToken).AsTask();
    }

    public override Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken)
    {
        journal.Entries.Enqueue($"disconnected:{reason}");
        journal.Disconnected.TrySetResult(reason);
        return Task.CompletedTask;
    }

    // Event "join" by name: a request returns the reply.
    public async Task<RoomJoined> JoinAsync(RoomJoin request, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var visits = Session.Get<int>("visits") + 1;
        Session.Set("visits", visits);
        return new RoomJoined(request.Room, request.Name, Connection.Id, visits);
    }

    // Event named by attribute; returns the ids that show per-message scope and instance.
    [SocketEvent("whoami")]
    public object Identify() => new { scope = perMessage.Id, instance = _instance, nick = Session.Get<string>("nick") };

    [SocketIgnore]
    public string NotAnEvent() => "hidden";

    public void Dispose() => journal.ControllersDisposed.Enqueue(_instance);
}

public sealed class DuplicateEventController : SocketController
{
    public void Send(string text)
    {
    }

    public Task SendAsync(string text, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class ControllerTests
{
    private static Task<TestHost> StartAsync(ControllerJournal journal) => TestHost.StartAsync(
        s =>
        {
            s.AddSocketRegistry();
            s.AddSingleton(journal);
            s.AddScoped<PerMessageService>();
        },
        app => app.MapWebSocketController<RoomsController>("/ws/rooms"));

    private static async Task<JsonElement> RequestAsync(WebSocket client, string eventName, object? data, int id)
    {
        await client.SendTextAsync(JsonSerializer.Serialize(new { @event = eventName, data, id }));
        var reply = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal(id, reply.GetProperty("reply").GetInt32());
        return reply;
    }

    [Fact]
    public async Task ControllerMethods_AreEvents_ByNameAndAttribute_AndRepliesComeFromReturnValues()
    {
        var journal = new ControllerJournal();
        await using var host = await StartAsync(journal);
        using var client = await host.ConnectAsync("/ws/rooms?nick=ann");

        var welcome = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("welcome", welcome.GetProperty("event").GetString());
        var id = welcome.GetProperty("data").GetProperty("id").GetString()!;

        var first = await RequestAsync(client, "join", new { room = "lobby", name = "ann" }, 1);
        Assert.Equal("lobby", first.GetProperty("data").GetProperty("room").GetString());
        Assert.Equal(id, first.GetProperty("data").GetProperty("connectionId").GetString());
        Assert.Equal(1, first.GetProperty("data").GetProperty("visits").GetInt32());

        // Session data outlives the per-message controller instances.
        var second = await RequestAsync(client, "join", new { room = "lobby", name = "ann" }, 2);
        Assert.Equal(2, second.GetProperty("data").GetProperty("visits").GetInt32());

        var who = await RequestAsync(client, "whoami", null, 3);
        Assert.Equal("ann", who.GetProperty("data").GetProperty("nick").GetString());
    }

    [Fact]
    public async Task Controller_IsCreatedPerMessageFromAScope_AndDisposedAfterEach()
    {
        var journal = new ControllerJournal();
        await using var host = await StartAsync(journal);
        using var client = await host.ConnectAsync("/ws/rooms?nick=bo");
        await client.ReceiveMessageAsync(); // welcome

        var a = (await RequestAsync(client, "whoami", null, 1)).GetProperty("data");
        var b = (await RequestAsync(client, "whoami", null, 2)).GetProperty("data");

        Assert.NotEqual(a.GetProperty("scope").GetGuid(), b.GetProperty("scope").GetGuid());
        Assert.NotEqual(a.GetProperty("instance").GetGuid(), b.GetProperty("instance").GetGuid());
        Assert.Contains(a.GetProperty("instance").GetGuid(), journal.ControllersDisposed);
        Assert.Contains(b.GetProperty("instance").GetGuid(), journal.ControllersDisposed);
    }

    [Fact]
    public async Task ControllerHooks_RunOncePerConnection_InTheControllersNamespace()
    {
        var journal = new ControllerJournal();
        await using var host = await StartAsync(journal);
        using var client = await host.ConnectAsync("/ws/rooms?nick=cy");
        await client.ReceiveMessageAsync(); // welcome: sent by OnConnectedAsync
        Assert.Equal(1, host.Registry.GetCount("rooms"));

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        Assert.Equal(DisconnectReason.ClientClosed, await journal.Disconnected.Task.DefaultTimeout());
        Assert.Equal(["connected:rooms:cy", "disconnected:ClientClosed"], journal.Entries.ToArray());
    }

    [Fact]
    public async Task IgnoredMethod_IsNotAnEvent()
    {
        var journal = new ControllerJournal();
        await using var host = await StartAsync(journal);
        using var client = await host.ConnectAsync("/ws/rooms?nick=di");
        await client.ReceiveMessageAsync(); // welcome

        var reply = await RequestAsync(client, "notAnEvent", null, 1);
        Assert.Equal("unknown_event", reply.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task TwoMethodsForOneEvent_AreAStartUpErrorNamingBoth()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            app => app.MapWebSocketController<DuplicateEventController>("/ws/dup")));

        Assert.Contains("'send'", error.Message);
        Assert.Contains("Send(String)", error.Message);
        Assert.Contains("SendAsync(String, CancellationToken)", error.Message);
    }

    [Theory]
    [InlineData("JoinRoom", "joinRoom")]
    [InlineData("JoinRoomAsync", "joinRoom")]
    [InlineData("Async", "async")]
    [InlineData("X", "x")]
    public void EventName_FromMethodName_DropsAsyncAndLowercasesFirstLetter(string method, string expected)
        => Assert.Equal(expected, WebSockets.Internal.ControllerBinder.EventName(method));
}
