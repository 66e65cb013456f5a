using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ChatApp.Tests.Infrastructure;

namespace ChatApp.Tests;

/// <summary>
/// The ChatApp's contract without a browser: /ws/chat and /ws/echo with real WebSocket clients, and the HTTP API, against
/// the app running in its own process on 127.0.0.1.
/// </summary>
public sealed class ChatApiTests(ChatAppFixture app) : IClassFixture<ChatAppFixture>
{
    private ChatAppServer Server => app.Server;

    [Fact]
    public async Task Echo_SendsTextAndBinaryBackUnchanged()
    {
        await using var socket = await EventSocket.ConnectRawAsync(Server.WebSocketUri("/ws/echo"));

        const string text = "héllo, echo ✓ {\"not\":\"an event\"";
        await socket.SendTextAsync(text);
        var echoed = await socket.ReceiveRawAsync();
        Assert.Equal(WebSocketMessageType.Text, echoed.Type);
        Assert.Equal(text, Encoding.UTF8.GetString(echoed.Data));

        byte[] binary = [0x00, 0xFF, 0x10, 0x80, 0xC3, 0x28, 0x7F, 0x01];
        await socket.SendBinaryAsync(binary);
        echoed = await socket.ReceiveRawAsync();
        Assert.Equal(WebSocketMessageType.Binary, echoed.Type);
        Assert.Equal(binary, echoed.Data);
    }

    [Fact]
    public async Task RoomJoin_RepliesWithMembersAndHistory_ChatReachesTheRoom_PresenceFollowsJoinsAndLeaves()
    {
        const string room = "api-presence";
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        await using var bob = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));

        var joined = await ann.RequestDataAsync("room.join", new { room, name = "ann" });
        Assert.Equal(room, joined.GetProperty("room").GetString());
        Assert.Equal([(ann.Id, "ann")], Members(joined));
        Assert.Equal(0, joined.GetProperty("history").GetArrayLength());

        // Bob joins: the reply lists both; Ann gets "presence" with both, and who joined.
        var bobJoined = await bob.RequestDataAsync("room.join", new { room, name = "bob" });
        Assert.Equal([(ann.Id, "ann"), (bob.Id, "bob")], Members(bobJoined));
        var presence = await ann.NextAsync("presence", p => NameOf(p, "joined") == "bob");
        Assert.Equal(room, presence.GetProperty("room").GetString());
        Assert.Equal([(ann.Id, "ann"), (bob.Id, "bob")], Members(presence));
        Assert.Equal("bob", presence.GetProperty("joined").GetProperty("name").GetString());

        // A message reaches every member, the sender too.
        await ann.EmitAsync("chat.send", new { room, text = "  hi bob  " });
        foreach (var member in new[] { ann, bob })
        {
            var message = await member.NextAsync("chat.message");
            Assert.Equal(room, message.GetProperty("room").GetString());
            Assert.Equal("ann", message.GetProperty("from").GetString());
            Assert.Equal("hi bob", message.GetProperty("text").GetString());
            Assert.True(message.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        }

        // Typing goes to the others only.
        await bob.EmitAsync("typing", new { room });
        var typing = await ann.NextAsync("typing");
        Assert.Equal("bob", typing.GetProperty("name").GetString());

        // A newcomer gets the history.
        await using var cid = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        var history = (await cid.RequestDataAsync("room.join", new { room, name = "cid" })).GetProperty("history");
        Assert.Equal("hi bob", Assert.Single(history.EnumerateArray()).GetProperty("text").GetString());

        // room.leave: the others are told.
        await cid.RequestDataAsync("room.leave", new { room });
        presence = await ann.NextAsync("presence", p => NameOf(p, "left") == "cid");
        Assert.Equal("cid", presence.GetProperty("left").GetProperty("name").GetString());
        Assert.Equal([(ann.Id, "ann"), (bob.Id, "bob")], Members(presence));

        // A connection that drops leaves its rooms, and the others are told (the disconnect hook).
        bob.Abort();
        presence = await ann.NextAsync("presence", p => NameOf(p, "left") == "bob");
        Assert.Equal([(ann.Id, "ann")], Members(presence));
    }

    [Fact]
    public async Task Rules_AreEnforcedOnTheServer_WithErrorsTheClientSees()
    {
        await using var eve = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));

        Assert.Equal("bad_name", ErrorCode(await eve.RequestAsync("room.join", new { room = "lobby", name = "<img src=x>" })));
        Assert.Equal("bad_name", ErrorCode(await eve.RequestAsync("room.join", new { room = "lobby", name = "System" })));
        Assert.Equal("bad_name", ErrorCode(await eve.RequestAsync("room.join", new { room = "lobby", name = new string('e', 25) })));
        Assert.Equal("bad_room", ErrorCode(await eve.RequestAsync("room.join", new { room = "Not A Room", name = "eve" })));
        Assert.Equal("bad_room", ErrorCode(await eve.RequestAsync("room.join", new { room = new string('r', 33), name = "eve" })));

        // chat.send is an event: refusals come back as error notices, and the connection stays open.
        await eve.EmitAsync("chat.send", new { room = "api-rules", text = "before joining" });
        Assert.Equal("not_in_room", (await eve.NextAsync("error")).GetProperty("code").GetString());

        await eve.RequestDataAsync("room.join", new { room = "api-rules", name = "eve" });
        await eve.EmitAsync("chat.send", new { room = "api-rules", text = "   " });
        Assert.Equal("empty_message", (await eve.NextAsync("error")).GetProperty("code").GetString());
        await eve.EmitAsync("chat.send", new { room = "api-rules", text = new string('x', 10_000) });
        var tooLong = await eve.NextAsync("error");
        Assert.Equal("message_too_long", tooLong.GetProperty("code").GetString());
        Assert.Contains("2000", tooLong.GetProperty("message").GetString(), StringComparison.Ordinal);

        // 2000 characters are fine, and HTML is only text to the server.
        await eve.EmitAsync("chat.send", new { room = "api-rules", text = new string('y', 2000) });
        Assert.Equal(2000, (await eve.NextAsync("chat.message")).GetProperty("text").GetString()!.Length);
        await eve.EmitAsync("chat.send", new { room = "api-rules", text = "<b>bold</b>" });
        Assert.Equal("<b>bold</b>", (await eve.NextAsync("chat.message")).GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("lobby\n")]
    [InlineData("rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\n")] // 32 characters and a newline: 33 in all.
    public async Task RoomNames_WithATrailingNewline_AreRefused_OverWebSocketAndHttp(string room)
    {
        // .NET's $ matches before a final "\n": such a room would be one of its own that looks like another.
        await using var eve = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        Assert.Equal("bad_room", ErrorCode(await eve.RequestAsync("room.join", new { room, name = "eve" })));

        // The route value is decoded: /api/rooms/lobby%0A/announce names the room "lobby\n".
        using var response = await Server.Http.PostAsJsonAsync($"/api/rooms/{Uri.EscapeDataString(room)}/announce", new { text = "hello" }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("bad_room", (await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Nicknames_AreTrimmed_AndMayNotHoldALineBreak()
    {
        await using var eve = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        Assert.Equal("bad_name", ErrorCode(await eve.RequestAsync("room.join", new { room = "api-names", name = "eve\nmallory" })));
        Assert.Equal("bad_name", ErrorCode(await eve.RequestAsync("room.join", new { room = "api-names", name = new string('e', 24) + "\n" + "e" })));

        // A trailing newline is whitespace: trimmed like spaces, so the nickname is "eve".
        var joined = await eve.RequestDataAsync("room.join", new { room = "api-names", name = "eve\n" });
        Assert.Equal([(eve.Id, "eve")], Members(joined));
    }

    [Fact]
    public async Task Nickname_IsFixedByTheFirstJoin_SoMessagesAndMemberListsAgree()
    {
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        await using var bob = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        await ann.RequestDataAsync("room.join", new { room = "api-nick-a", name = "ann" });
        await bob.RequestDataAsync("room.join", new { room = "api-nick-a", name = "bob" });

        // Another name, in a new room or in the same one, is refused: nothing is renamed behind the others' backs.
        var refused = await ann.RequestAsync("room.join", new { room = "api-nick-b", name = "mallory" });
        Assert.Equal("name_fixed", ErrorCode(refused));
        Assert.Contains("ann", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("name_fixed", ErrorCode(await ann.RequestAsync("room.join", new { room = "api-nick-a", name = "mallory" })));

        // The same name joins a second room, and joining a room again changes nothing.
        Assert.Equal([(ann.Id, "ann")], Members(await ann.RequestDataAsync("room.join", new { room = "api-nick-b", name = "ann" })));
        Assert.Equal([(ann.Id, "ann"), (bob.Id, "bob")], Members(await ann.RequestDataAsync("room.join", new { room = "api-nick-a", name = "ann" })));

        // Messages, member lists and the registry all say "ann".
        await ann.EmitAsync("chat.send", new { room = "api-nick-a", text = "still ann" });
        Assert.Equal("ann", (await bob.NextAsync("chat.message", m => m.GetProperty("text").GetString() == "still ann")).GetProperty("from").GetString());
        Assert.Equal([(ann.Id, "ann"), (bob.Id, "bob")], Members(await bob.RequestDataAsync("room.join", new { room = "api-nick-b", name = "bob" })));
        await using var cid = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        Assert.Equal([(ann.Id, "ann"), (bob.Id, "bob"), (cid.Id, "cid")], Members(await cid.RequestDataAsync("room.join", new { room = "api-nick-a", name = "cid" })));
        var report = await Server.Http.GetFromJsonAsync<JsonElement>("/api/connections").DefaultTimeout();
        Assert.Equal("ann", report.GetProperty("connections").EnumerateArray().Single(c => c.GetProperty("id").GetString() == ann.Id).GetProperty("name").GetString());
    }

    [Fact]
    public async Task OneConnection_IsInAtMost10Rooms()
    {
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        for (var i = 0; i < 10; i++)
        {
            await ann.RequestDataAsync("room.join", new { room = $"api-per-connection-{i}", name = "ann" });
        }

        var refused = await ann.RequestAsync("room.join", new { room = "api-per-connection-10", name = "ann" });
        Assert.Equal("too_many_rooms", ErrorCode(refused));
        Assert.Contains("10 rooms", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // Leaving one makes room for another.
        await ann.RequestDataAsync("room.leave", new { room = "api-per-connection-0" });
        await ann.RequestDataAsync("room.join", new { room = "api-per-connection-10", name = "ann" });
    }

    [Fact]
    public async Task TheChat_HasAtMost200Rooms_SoTheRoomListEveryPageGetsIsBounded()
    {
        // New rooms, 10 per connection (the most one may be in), until the server refuses one. Rooms of other tests that
        // are still closing count too, so the test doesn't assume how many it can open; it checks what the cap allows.
        List<EventSocket> people = [];
        try
        {
            JsonElement refused = default;
            var opened = 0;
            while (opened <= 210 && refused.ValueKind == JsonValueKind.Undefined)
            {
                var person = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
                people.Add(person);
                for (var i = 0; i < 10 && refused.ValueKind == JsonValueKind.Undefined; i++)
                {
                    var reply = await person.RequestAsync("room.join", new { room = $"api-cap-{opened}", name = $"p{people.Count}" });
                    if (ErrorCode(reply) is { } code)
                    {
                        Assert.Equal("too_many_rooms", code);
                        refused = reply;
                    }
                    else
                    {
                        opened++;
                    }
                }
            }

            Assert.True(refused.ValueKind != JsonValueKind.Undefined, $"{opened} new rooms were opened and none was refused.");
            Assert.Contains("200 rooms", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.InRange(opened, 1, 200);
            var rooms = await Server.Http.GetFromJsonAsync<JsonElement>("/api/rooms").DefaultTimeout();
            Assert.InRange(rooms.GetArrayLength(), opened, 200);

            // A room that has people in it can still be joined, and every page got a room list of at most 200.
            await using var bob = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
            Assert.InRange((await bob.NextAsync("rooms")).GetArrayLength(), opened, 200);
            await bob.RequestDataAsync("room.join", new { room = "api-cap-0", name = "bob" });
        }
        finally
        {
            foreach (var person in people)
            {
                await person.DisposeAsync();
            }
        }

        // The other tests of this class share the server: wait until these rooms are gone.
        await WaitUntilAsync(async () => (await Server.Http.GetFromJsonAsync<JsonElement>("/api/rooms"))
            .EnumerateArray().All(r => !r.GetProperty("name").GetString()!.StartsWith("api-cap-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task GetRoomsAndConnections_ComeFromTheRegistry()
    {
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        await using var bob = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        await ann.RequestDataAsync("room.join", new { room = "api-rooms-a", name = "ann" });
        await bob.RequestDataAsync("room.join", new { room = "api-rooms-a", name = "bob" });
        await bob.RequestDataAsync("room.join", new { room = "api-rooms-b", name = "bob" });

        var rooms = await Server.Http.GetFromJsonAsync<JsonElement>("/api/rooms").DefaultTimeout();
        var counts = rooms.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("members").GetInt32());
        Assert.Equal(2, counts["api-rooms-a"]);
        Assert.Equal(1, counts["api-rooms-b"]);

        var report = await Server.Http.GetFromJsonAsync<JsonElement>("/api/connections").DefaultTimeout();
        Assert.True(report.GetProperty("isComplete").GetBoolean());
        Assert.True(report.GetProperty("total").GetInt32() >= 2);
        Assert.True(report.GetProperty("namespaces").GetProperty("chat").GetInt32() >= 2);
        var connections = report.GetProperty("connections").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!);
        Assert.Equal("bob", connections[bob.Id].GetProperty("name").GetString());
        Assert.Equal("chat", connections[bob.Id].GetProperty("namespace").GetString());
        Assert.Equal(["api-rooms-a", "api-rooms-b"], connections[bob.Id].GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));

        // Bob goes: the counts follow.
        await bob.DisposeAsync();
        await ann.NextAsync("rooms", r => r.EnumerateArray().All(x => x.GetProperty("name").GetString() != "api-rooms-b"));
        rooms = await Server.Http.GetFromJsonAsync<JsonElement>("/api/rooms").DefaultTimeout();
        counts = rooms.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("members").GetInt32());
        Assert.Equal(1, counts["api-rooms-a"]);
        Assert.False(counts.ContainsKey("api-rooms-b"));
    }

    [Fact]
    public async Task Announce_BroadcastsFromSystem_AndHistoryKeepsTheLast50()
    {
        const string room = "api-announce";
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        await ann.RequestDataAsync("room.join", new { room, name = "ann" });

        using var response = await Server.Http.PostAsJsonAsync($"/api/rooms/{room}/announce", new { text = "Maintenance at 18:00" }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var message = await ann.NextAsync("chat.message");
        Assert.Equal("system", message.GetProperty("from").GetString());
        Assert.Equal("Maintenance at 18:00", message.GetProperty("text").GetString());
        Assert.Equal(room, message.GetProperty("room").GetString());

        for (var i = 2; i <= 55; i++)
        {
            using var next = await Server.Http.PostAsJsonAsync($"/api/rooms/{room}/announce", new { text = $"notice {i}" }).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Accepted, next.StatusCode);
        }

        await using var bob = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        var history = (await bob.RequestDataAsync("room.join", new { room, name = "bob" })).GetProperty("history").EnumerateArray().ToList();
        Assert.Equal(50, history.Count);
        Assert.Equal("notice 6", history[0].GetProperty("text").GetString());
        Assert.Equal("notice 55", history[^1].GetProperty("text").GetString());
    }

    [Fact]
    public async Task History_IsKeptFor200Rooms_DroppingTheLeastRecentlyUsed()
    {
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));

        // One message in each room, one room at a time; "api-lru-kept" is used again after 150 others.
        await PostInRoomAsync(ann, "api-lru-kept", "kept");
        for (var i = 0; i < 220; i++)
        {
            await PostInRoomAsync(ann, $"api-lru-{i}", $"message {i}");
            if (i == 150)
            {
                await PostInRoomAsync(ann, "api-lru-kept", "kept again");
            }
        }

        // The 200 rooms used last keep their history: api-lru-219 … api-lru-151, api-lru-kept, api-lru-150 … api-lru-21.
        // api-lru-0 … api-lru-20 (and any room of another test, used before them) lost theirs.
        await using var bob = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        Assert.Equal(["kept", "kept again"], await HistoryTextsAsync(bob, "api-lru-kept"));
        Assert.Empty(await HistoryTextsAsync(bob, "api-lru-0"));
        Assert.Empty(await HistoryTextsAsync(bob, "api-lru-20"));
        Assert.Equal(["message 21"], await HistoryTextsAsync(bob, "api-lru-21"));
        Assert.Equal(["message 219"], await HistoryTextsAsync(bob, "api-lru-219"));
    }

    [Theory]
    [InlineData("api-announce", "", "empty_message")]
    [InlineData("Bad Room!", "hello", "bad_room")]
    public async Task Announce_RefusesWhatBreaksTheRules_With400(string room, string text, string code)
    {
        using var response = await Server.Http.PostAsJsonAsync($"/api/rooms/{Uri.EscapeDataString(room)}/announce", new { text }).DefaultTimeout();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout();
        Assert.Equal(code, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Announce_ToARoomNoOneIsIn_Is404_AndLeavesNoHistory()
    {
        const string room = "api-announce-empty";
        using var response = await Server.Http.PostAsJsonAsync($"/api/rooms/{room}/announce", new { text = "Anyone there?" }).DefaultTimeout();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout();
        Assert.Equal("room_not_found", problem.GetProperty("type").GetString());
        Assert.Contains(room, problem.GetProperty("title").GetString(), StringComparison.Ordinal);

        // Nothing was kept: the first person to join finds no history.
        await using var ann = await EventSocket.ConnectAsync(Server.WebSocketUri("/ws/chat"));
        Assert.Equal(0, (await ann.RequestDataAsync("room.join", new { room, name = "ann" })).GetProperty("history").GetArrayLength());
    }

    [Fact]
    public async Task Announce_OfTenThousandCharacters_IsRefused()
    {
        using var response = await Server.Http.PostAsJsonAsync("/api/rooms/lobby/announce", new { text = new string('x', 10_000) }).DefaultTimeout();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("message_too_long", (await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout()).GetProperty("type").GetString());
    }

    /// <summary>Joins a room, says something, waits for it to come back, and leaves.</summary>
    private static async Task PostInRoomAsync(EventSocket socket, string room, string text)
    {
        await socket.RequestDataAsync("room.join", new { room, name = "ann" });
        await socket.EmitAsync("chat.send", new { room, text });
        await socket.NextAsync("chat.message", m => m.GetProperty("room").GetString() == room && m.GetProperty("text").GetString() == text);
        await socket.RequestDataAsync("room.leave", new { room });
    }

    /// <summary>Joins a room, returns the texts of its history and leaves.</summary>
    private static async Task<List<string>> HistoryTextsAsync(EventSocket socket, string room)
    {
        var history = (await socket.RequestDataAsync("room.join", new { room, name = "bob" })).GetProperty("history");
        await socket.RequestDataAsync("room.leave", new { room });
        return [.. history.EnumerateArray().Select(m => m.GetProperty("text").GetString()!)];
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutValue;
        while (!await condition().DefaultTimeout())
        {
            Assert.True(DateTime.UtcNow < deadline, $"The condition was not met within {TaskTimeoutExtensions.DefaultTimeoutValue}.");
            await Task.Delay(50);
        }
    }

    private static List<(string Id, string Name)> Members(JsonElement data)
        => [.. data.GetProperty("members").EnumerateArray().Select(m => (m.GetProperty("id").GetString()!, m.GetProperty("name").GetString()!))];

    /// <summary>The name of who joined or left, from a presence event.</summary>
    private static string? NameOf(JsonElement presence, string change)
        => presence.GetProperty(change) is { ValueKind: JsonValueKind.Object } member ? member.GetProperty("name").GetString() : null;

    private static string? ErrorCode(JsonElement reply)
        => reply.TryGetProperty("error", out var error) ? error.GetProperty("code").GetString() : null;
}
