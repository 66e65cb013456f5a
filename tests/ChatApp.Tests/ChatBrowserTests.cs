using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ChatApp.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ChatApp.Tests;

/// <summary>
/// The chat page in headless Chromium (Debian's package, driven by playwright-core) against the ChatApp running in its
/// own process: what people see when they use it. Each step saves a screenshot in the test output folder
/// (bin/…/screenshots/&lt;test&gt;/).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ChatBrowserTests(BrowserFixture browser, ITestOutputHelper output)
{
    [Fact]
    public async Task TwoPages_ChatInARoom_WithPresenceTypingHistoryAndNotices()
    {
        await using var server = await ChatAppServer.StartAsync();
        var shots = Screenshots();
        await using var ada = await OpenAsync(server, "ada", shots);
        await using var grace = await OpenAsync(server, "grace", shots);

        await ada.WaitForStateAsync("connected");
        await ada.ScreenshotAsync("nickname-screen");
        await ada.SignInAsync("Ada");
        await grace.SignInAsync("Grace");

        // Presence on both pages, and a join notice for the one who was there first.
        await ada.WaitForMembersAsync("Ada", "Grace");
        await grace.WaitForMembersAsync("Ada", "Grace");
        await ada.WaitForNoticeAsync("Grace joined");
        await ada.WaitForRoomCountAsync("lobby", 2);
        await grace.WaitForRoomCountAsync("lobby", 2);
        await ada.ScreenshotAsync("presence");

        // Typing shows on the other page.
        await grace.TypeAsync("Hello");
        await ada.WaitForTypingAsync("Grace is typing");
        await ada.ScreenshotAsync("typing");

        await grace.SendAsync("Hello Ada! How is the engine going?");
        await ada.WaitForMessageAsync("Grace", "Hello Ada! How is the engine going?");
        await grace.WaitForMessageAsync("Grace", "Hello Ada! How is the engine going?");
        await ada.SendAsync("Hi Grace! The analytical engine computes Bernoulli numbers now.");
        await grace.WaitForMessageAsync("Ada", "Hi Grace! The analytical engine computes Bernoulli numbers now.");
        await ada.WaitForMessageAsync("Ada", "Hi Grace! The analytical engine computes Bernoulli numbers now.");
        await grace.ScreenshotAsync("chat");

        // A newcomer gets the room's history, and everyone sees the newcomer.
        var linus = await OpenAsync(server, "linus", shots);
        await linus.SignInAsync("Linus");
        await linus.WaitForMessageAsync("Grace", "Hello Ada! How is the engine going?");
        await linus.WaitForMessageAsync("Ada", "Hi Grace! The analytical engine computes Bernoulli numbers now.");
        await ada.WaitForMembersAsync("Ada", "Grace", "Linus");
        await grace.WaitForMembersAsync("Ada", "Grace", "Linus");
        await linus.ScreenshotAsync("history");

        // Closing the page leaves the room: the others get a leave notice and the new member list.
        await linus.DisposeAsync();
        await ada.WaitForNoticeAsync("Linus left");
        await ada.WaitForMembersAsync("Ada", "Grace");
        await grace.WaitForMembersAsync("Ada", "Grace");
        await ada.ScreenshotAsync("left");
    }

    [Fact]
    public async Task NewRoom_ShowsInEveryRoomList_AndMovesItsCreatorOutOfTheLobby()
    {
        await using var server = await ChatAppServer.StartAsync();
        var shots = Screenshots();
        await using var ada = await OpenAsync(server, "ada", shots);
        await using var grace = await OpenAsync(server, "grace", shots);
        await ada.SignInAsync("Ada");
        await grace.SignInAsync("Grace");
        await grace.WaitForMembersAsync("Ada", "Grace");

        await ada.EnterRoomAsync("engines");
        await ada.WaitForMembersAsync("Ada");
        await grace.WaitForNoticeAsync("Ada left");
        await grace.WaitForMembersAsync("Grace");
        await grace.WaitForRoomCountAsync("engines", 1);
        await grace.WaitForRoomCountAsync("lobby", 1);
        await grace.ScreenshotAsync("room-list");

        // Messages stay in their room. An absence proves something only once Ada's page shows a later message that would
        // have come after a stray one: the server handles one connection's messages one at a time, a handler's emit is
        // done when the message is queued to every recipient, and each connection's queue is in order. So when Grace sees
        // her second message, her first was queued to everyone who was to get it, and Ada's message, sent after that,
        // comes after anything of Grace's that reached Ada.
        await grace.SendAsync("Anyone in the lobby?");
        await grace.WaitForMessageAsync("Grace", "Anyone in the lobby?");
        await grace.SendAsync("Hello?");
        await grace.WaitForMessageAsync("Grace", "Hello?");
        await ada.SendAsync("Only engines here.");
        await ada.WaitForMessageAsync("Ada", "Only engines here.");
        var shownToAda = await ada.EvaluateAsync<string>("document.querySelector('#messages').textContent");
        Assert.DoesNotContain("Anyone in the lobby?", shownToAda, StringComparison.Ordinal);
        Assert.DoesNotContain("Hello?", shownToAda, StringComparison.Ordinal);

        var rooms = await server.Http.GetFromJsonAsync<JsonElement>("/api/rooms").DefaultTimeout();
        Assert.Equal(
            [("engines", 1), ("lobby", 1)],
            rooms.EnumerateArray().Select(r => (r.GetProperty("name").GetString(), r.GetProperty("members").GetInt32())));
    }

    [Fact]
    public async Task NewRoom_BeyondTheChatsLimit_IsRefusedWithAToast()
    {
        await using var server = await ChatAppServer.StartAsync();
        var shots = Screenshots();
        await using var ada = await OpenAsync(server, "ada", shots);
        await ada.SignInAsync("Ada");

        // The lobby and 199 rooms opened by scripts, 10 per connection: the chat's 200.
        List<EventSocket> scripts = [];
        try
        {
            for (var i = 0; i < 199; i++)
            {
                if (i % 10 == 0)
                {
                    scripts.Add(await EventSocket.ConnectAsync(server.WebSocketUri("/ws/chat")));
                }

                await scripts[^1].RequestDataAsync("room.join", new { room = $"full-{i}", name = $"script{scripts.Count}" });
            }

            await ada.WaitForRoomCountAsync("full-198", 1);
            await ada.EnterRoomRefusedAsync("one-too-many", "The chat already has 200 rooms");
            Assert.Equal("#lobby", await ada.EvaluateAsync<string>("document.querySelector('#room-title').textContent"));
            await ada.ScreenshotAsync("too-many-rooms");

            // An existing room can still be joined.
            await ada.EnterRoomAsync("full-0");
            await ada.WaitForMembersAsync("Ada", "script1");
        }
        finally
        {
            foreach (var script in scripts)
            {
                await script.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Announcement_ThroughTheRestController_ShowsOnThePage()
    {
        await using var server = await ChatAppServer.StartAsync();
        var shots = Screenshots();
        await using var ada = await OpenAsync(server, "ada", shots);
        await ada.SignInAsync("Ada");

        const string text = "The server restarts at 18:00 for an upgrade.";
        using var response = await server.Http.PostAsJsonAsync("/api/rooms/lobby/announce", new { text }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        await ada.WaitForMessageAsync("system", text);
        Assert.Equal(1, await ada.EvaluateAsync<int>("document.querySelectorAll('#messages .message.system').length"));
        await ada.ScreenshotAsync("announcement");
    }

    [Fact]
    public async Task ServerKilledAndRestarted_PageReconnectsByItself_AndChatsAgain()
    {
        await using var server = await ChatAppServer.StartAsync();
        var shots = Screenshots();
        await using var ada = await OpenAsync(server, "ada", shots);
        await using var grace = await OpenAsync(server, "grace", shots);
        await ada.SignInAsync("Ada");
        await grace.SignInAsync("Grace");
        await ada.WaitForMembersAsync("Ada", "Grace");
        await grace.SendAsync("Before the crash");
        await ada.WaitForMessageAsync("Grace", "Before the crash");

        await server.KillAsync();
        await ada.WaitForStateAsync("reconnecting");
        await grace.WaitForStateAsync("reconnecting");
        await ada.WaitForNoticeAsync("Connection lost. Reconnecting…");
        await ada.ScreenshotAsync("server-down");

        await server.RestartAsync();
        await ada.WaitForStateAsync("connected", ChatPage.ReconnectWait);
        await grace.WaitForStateAsync("connected", ChatPage.ReconnectWait);

        // Each page joined its room again by itself: presence is back, and what was shown stays.
        await ada.WaitForNoticeAsync("Reconnected.");
        await grace.WaitForNoticeAsync("Reconnected.");
        await ada.WaitForMembersAsync("Ada", "Grace");
        await grace.WaitForMembersAsync("Ada", "Grace");
        await ada.WaitForMessageAsync("Grace", "Before the crash");

        await grace.SendAsync("After the restart");
        await ada.WaitForMessageAsync("Grace", "After the restart");
        await ada.SendAsync("Welcome back");
        await grace.WaitForMessageAsync("Ada", "Welcome back");
        await ada.ScreenshotAsync("reconnected");
    }

    [Fact]
    public async Task TwoInstancesWithRedis_OnePageOnEach_ShareRoomsPresenceAndMessages()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var first = await ChatAppServer.StartAsync("--redis", redis.Configuration);
        await using var second = await ChatAppServer.StartAsync("--redis", redis.Configuration);
        var shots = Screenshots();
        await using var ada = await OpenAsync(first, "ada-on-first", shots);
        await using var grace = await OpenAsync(second, "grace-on-second", shots);

        await ada.SignInAsync("Ada");
        await grace.SignInAsync("Grace");

        // Presence is cluster-wide: each page lists the person on the other server.
        await ada.WaitForMembersAsync("Ada", "Grace");
        await grace.WaitForMembersAsync("Ada", "Grace");
        await ada.WaitForNoticeAsync("Grace joined");
        await ada.WaitForRoomCountAsync("lobby", 2);
        await grace.WaitForRoomCountAsync("lobby", 2);

        await grace.SendAsync("Hello from the second server");
        await ada.WaitForMessageAsync("Grace", "Hello from the second server");
        await ada.SendAsync("Hello from the first server");
        await grace.WaitForMessageAsync("Ada", "Hello from the first server");

        // An announcement posted to one server reaches the page on the other.
        using var response = await first.Http.PostAsJsonAsync("/api/rooms/lobby/announce", new { text = "Posted on the first server" }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await grace.WaitForMessageAsync("system", "Posted on the first server");
        await ada.ScreenshotAsync("cluster");
        await grace.ScreenshotAsync("cluster");

        var rooms = await second.Http.GetFromJsonAsync<JsonElement>("/api/rooms").DefaultTimeout();
        Assert.Equal([("lobby", 2)], rooms.EnumerateArray().Select(r => (r.GetProperty("name").GetString(), r.GetProperty("members").GetInt32())));

        // Leaving on one server is seen on the other.
        await grace.DisposeAsync();
        await ada.WaitForNoticeAsync("Grace left");
        await ada.WaitForMembersAsync("Ada");
    }

    [Fact]
    public async Task BadInput_IsRefusedWithAVisibleError_AndHtmlIsShownAsText()
    {
        await using var server = await ChatAppServer.StartAsync();
        var shots = Screenshots();
        await using var eve = await OpenAsync(server, "eve", shots);

        // A nickname with HTML is refused by the server, and the page says why.
        await eve.SignInRefusedAsync("<img src=x onerror=\"window.__xss=1\">", "A nickname has 1 to 24");
        await eve.ScreenshotAsync("bad-nickname");
        await eve.SignInAsync("Eve");

        await eve.SendAsync("");
        await eve.WaitForToastAsync("Type a message first");
        await eve.ScreenshotAsync("empty-message");

        // 10 000 characters: refused, and the text stays in the composer to be shortened.
        await eve.SendAsync(new string('x', 10_000));
        await eve.WaitForToastAsync("at most 2000 characters");
        await eve.WaitUntilAsync("document.querySelector('#message').value.length === 10000 && document.querySelector('#counter').classList.contains('over')");
        await eve.ScreenshotAsync("too-long");

        // HTML is text: it shows as typed, and nothing of it runs or renders.
        const string html = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script><b>bold?</b>";
        await eve.SendAsync(html);
        await eve.WaitForMessageAsync("Eve", html);
        Assert.Equal(0, await eve.EvaluateAsync<int>("document.querySelectorAll('#messages img, #messages script, #messages b').length"));
        Assert.Equal("undefined", await eve.EvaluateAsync<string>("typeof window.__xss"));
        await eve.ScreenshotAsync("html-as-text");
        Assert.Equal(1, await eve.EvaluateAsync<int>("document.querySelectorAll('#messages .message').length"));
    }

    private Task<ChatPage> OpenAsync(ChatAppServer server, string who, Screenshots shots)
        => ChatPage.OpenAsync(browser.Driver, server.BaseUri, who, shots, output);

    private Screenshots Screenshots([CallerMemberName] string test = "")
    {
        var shots = new Screenshots(test);
        output.WriteLine($"Chromium {browser.Driver.Version}; screenshots in {shots.Directory}");
        return shots;
    }
}
