using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>Rooms, users and presence on one server with the default backplane, which connects nothing.</summary>
public sealed class RoomTests
{
    private const string Chat = "chat";

    private static Task<TestHost> StartAsync(Action<SocketRegistryOptions>? options = null, Action<SocketNamespaceBuilder>? configure = null, Action<WebApplication>? before = null)
        => TestHost.StartAsync(
            s => s.AddSocketRegistry(o =>
            {
                o.ConnectionIdGenerator = c => c.Request.Query["id"].ToString();
                options?.Invoke(o);
            }).AddNamespace(Chat, ns => configure?.Invoke(ns)),
            app =>
            {
                before?.Invoke(app);
                app.MapWebSocketEndpoint("/ws", Chat);
            });

    private static async Task<EventClient> ConnectAsync(TestHost host, string id) => new(await host.ConnectAsync($"/ws?id={id}"), id);

    [Fact]
    public async Task EndedConnection_LeavesEveryRoom_AndDisconnectHooksStillSeeItsRooms()
    {
        var roomsAtDisconnect = new TaskCompletionSource<string[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(configure: ns => ns
            .OnConnected(async (c, _) =>
            {
                await c.JoinAsync("red");
                await c.JoinAsync("blue");
                await c.JoinAsync("red");
            })
            .OnDisconnected((c, _, _) =>
            {
                roomsAtDisconnect.TrySetResult([.. c.Rooms.Order(StringComparer.Ordinal)]);
                return Task.CompletedTask;
            }));
        using var staying = await ConnectAsync(host, "staying");
        using (var leaving = await ConnectAsync(host, "leaving"))
        {
            var counts = await host.Registry.GetCountsAsync().DefaultTimeout();
            Assert.Equal(2, counts.Value.Rooms["red"]);
            Assert.Equal(2, counts.Value.Rooms["blue"]);
            Assert.Equal(["blue", "red"], (await host.Registry.GetRoomsAsync("leaving").DefaultTimeout()).Value.Order(StringComparer.Ordinal));
            leaving.Socket.Abort();
        }

        Assert.Equal(["blue", "red"], await roomsAtDisconnect.Task.DefaultTimeout());
        var after = await host.Registry.GetCountsAsync().DefaultTimeout();
        Assert.True(after.IsComplete);
        Assert.Equal(1, after.Value.Rooms["red"]);
        Assert.Equal(["staying"], (await host.Registry.GetRoomMembersAsync("red").DefaultTimeout()).Value.Select(static m => m.ConnectionId));
        Assert.Empty((await host.Registry.GetRoomsAsync("leaving").DefaultTimeout()).Value);

        staying.Socket.Abort();
        await Eventually.Until(() => host.Registry.GetCountsAsync(), r => r.Value.Rooms.Count == 0 && r.Value.Connections == 0, "the last room is gone");
    }

    [Fact]
    public async Task Leave_StopsDelivery_AndJoinAfterTheEndIsIgnored()
    {
        var ended = new TaskCompletionSource<ISocketConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(configure: ns => ns
            .OnConnected((c, _) => c.JoinAsync("news").AsTask())
            .OnDisconnected((c, _, _) =>
            {
                ended.TrySetResult(c);
                return Task.CompletedTask;
            }));
        using var reader = await ConnectAsync(host, "reader");
        Assert.True(host.Registry.TryGetConnection("reader", out var connection));

        await host.Registry.Rooms("news").EmitAsync("headline", 1).DefaultTimeout();
        Assert.Equal(1, (await reader.NextEventAsync("headline")).GetInt32());
        await connection.LeaveAsync("news").DefaultTimeout();
        await connection.LeaveAsync("news").DefaultTimeout();
        Assert.Empty(connection.Rooms);
        await host.Registry.Rooms("news").EmitAsync("headline", 2).DefaultTimeout();
        await connection.EmitAsync("marker", 3).DefaultTimeout();
        Assert.Equal(3, (await reader.NextEventAsync("marker")).GetInt32());

        reader.Socket.Abort();
        var gone = await ended.Task.DefaultTimeout();
        await gone.JoinAsync("late").DefaultTimeout();
        Assert.Empty((await host.Registry.GetRoomMembersAsync("late").DefaultTimeout()).Value);
    }

    [Fact]
    public async Task RoomNames_AreValidated()
    {
        await using var host = await StartAsync();
        using var client = await ConnectAsync(host, "x");
        Assert.True(host.Registry.TryGetConnection("x", out var connection));

        await Assert.ThrowsAsync<ArgumentException>(() => connection.JoinAsync("").AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => connection.JoinAsync(new string('r', 201)).AsTask());
        Assert.Throws<ArgumentException>(() => host.Registry.Rooms(""));
        await connection.JoinAsync(new string('r', 200)).DefaultTimeout();
        Assert.Single(connection.Rooms);
    }

    [Fact]
    public async Task UserId_DefaultsToTheNameIdentifierClaim_AndUsersReachesEveryConnectionOfTheUser()
    {
        await using var host = await StartAsync(before: app => app.Use((context, next) =>
        {
            if (context.Request.Query["as"] is { Count: > 0 } user)
            {
                context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user.ToString())], "test"));
            }

            return next(context);
        }));
        using var phone = new EventClient(await host.ConnectAsync("/ws?id=phone&as=alice"), "phone");
        using var laptop = new EventClient(await host.ConnectAsync("/ws?id=laptop&as=alice"), "laptop");
        using var anonymous = new EventClient(await host.ConnectAsync("/ws?id=anon"), "anon");

        Assert.True(host.Registry.TryGetConnection("phone", out var connection));
        Assert.Equal("alice", connection.UserId);
        Assert.True(host.Registry.TryGetConnection("anon", out var anon));
        Assert.Null(anon.UserId);

        await host.Registry.Users("alice").EmitAsync("dm", "hi").DefaultTimeout();
        Assert.Equal("hi", (await phone.NextEventAsync("dm")).GetString());
        Assert.Equal("hi", (await laptop.NextEventAsync("dm")).GetString());
        await host.Registry.Connections("anon").EmitAsync("marker", 1).DefaultTimeout();
        Assert.Equal(1, (await anonymous.NextEventAsync("marker")).GetInt32());
    }

    [Fact]
    public async Task Presence_ShowsOnlyTheSessionItemsMarkedPublic()
    {
        await using var host = await StartAsync(
            o => o.PublicSessionItems.Add("name"),
            ns => ns.OnConnected((c, _) =>
            {
                c.Session.Set("name", "Ada");
                c.Session.Set("token", "secret");
                return c.JoinAsync("lobby").AsTask();
            }));
        using var client = await ConnectAsync(host, "ada");

        // The connect hook joins after the upgrade has completed on the client's side: wait for it.
        var members = await Eventually.Until(() => host.Registry.GetRoomMembersAsync("lobby"), r => r.Value.Count == 1, "the connect hook to join the lobby");
        var member = Assert.Single(members.Value);
        Assert.Equal("Ada", member.Items["name"].GetString());
        Assert.False(member.Items.ContainsKey("token"));
        Assert.Equal(["lobby"], member.Rooms);
    }

    [Fact]
    public async Task RoomsPerConnection_AreLimited_ForServerCodeAndForClients()
    {
        await using var host = await StartAsync(o => o.MaxRoomsPerConnection = 2, ns => ns.AllowClientRooms((_, _, _) => ValueTask.FromResult(true)));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        using var client = await ConnectAsync(host, "c");
        Assert.True(host.Registry.TryGetConnection("c", out var connection));

        await connection.JoinAsync("one").DefaultTimeout();
        await connection.JoinAsync("one").DefaultTimeout();
        var reply = await client.RequestAsync("$join", new { room = "two" });
        Assert.Equal(["one", "two"], reply.GetProperty("data").GetProperty("rooms").EnumerateArray().Select(static r => r.GetString()).Order(StringComparer.Ordinal));

        await Assert.ThrowsAsync<InvalidOperationException>(() => connection.JoinAsync("three").AsTask());
        var refused = await client.RequestAsync("$join", new { room = "three" });
        Assert.Equal("too_many_rooms", refused.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(2, connection.Rooms.Count);
        Assert.Equal(1, metrics.Sum("websockets.server.rejected_messages", "websockets.rejection.reason", "too_many_rooms"));

        await client.RequestAsync("$leave", new { room = "one" });
        Assert.Equal("three", (await client.RequestAsync("$join", new { room = "three" })).GetProperty("data").GetProperty("room").GetString());
    }

    [Fact]
    public async Task ClientRooms_AreUnknownUnlessTheNamespaceAllowsThem()
    {
        await using var host = await StartAsync();
        using var client = await ConnectAsync(host, "c");

        var reply = await client.RequestAsync("$join", new { room = "lobby" });
        Assert.Equal("unknown_event", reply.GetProperty("error").GetProperty("code").GetString());
        Assert.Empty((await host.Registry.GetRoomMembersAsync("lobby").DefaultTimeout()).Value);
    }

    [Fact]
    public void EventNamesStartingWithDollar_AreReserved()
    {
        var services = new ServiceCollection();
        services.AddSocketRegistry().AddNamespace("n", ns => ns.On("$join", () => "mine"));
        using var provider = services.BuildServiceProvider();
        Assert.Throws<ArgumentException>(() => provider.GetRequiredService<ISocketRegistry>());
    }

    [Fact]
    public async Task Handler_ThrowingSocketRequestException_RepliesWithItsCode_AndTheConnectionStaysOpen()
    {
        await using var host = await StartAsync(configure: ns => ns
            .On("buy", (int quantity) => quantity > 10 ? throw new SocketRequestException("limit", "At most 10.") : quantity));
        using var client = await ConnectAsync(host, "c");

        var refused = await client.RequestAsync("buy", 11);
        Assert.Equal("limit", refused.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("At most 10.", refused.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(3, (await client.RequestAsync("buy", 3)).GetProperty("data").GetInt32());
        Assert.DoesNotContain(host.Logs.Records, static e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public async Task SingleServer_PublishesNothing_AndAnswersCompletely()
    {
        await using var host = await StartAsync();
        using var client = await ConnectAsync(host, "c");

        Assert.False(host.RegistryInternal.IsClustered);
        Assert.True((await host.Registry.GetCountsAsync().DefaultTimeout()).IsComplete);
        Assert.False(await host.Registry.SendAsync("elsewhere", SocketMessage.Text("x")).DefaultTimeout());
        Assert.True(await host.Registry.SendAsync("c", SocketMessage.Text("here")).DefaultTimeout());
        Assert.Equal("here", await client.Socket.ReceiveTextAsync());
    }
}
