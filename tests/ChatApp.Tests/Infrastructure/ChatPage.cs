using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace ChatApp.Tests.Infrastructure;

/// <summary>
/// One person's chat page in its own browser context, driven the way a person uses it: type, press Enter, look. Every
/// wait has an explicit timeout (<see cref="Wait"/>); nothing sleeps. Screenshots go to the test's output folder.
/// </summary>
internal sealed class ChatPage : IAsyncDisposable
{
    /// <summary>How long a page may take to show what the test waits for, on a loaded 2-core machine.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>How long reconnecting may take: the server's restart plus the client's backoff (at most 5 s).</summary>
    public static readonly TimeSpan ReconnectWait = TimeSpan.FromSeconds(60);

    private static int s_counter;

    private readonly BrowserDriver _driver;
    private readonly Screenshots _screenshots;
    private readonly ITestOutputHelper _output;

    private ChatPage(BrowserDriver driver, string who, string name, Screenshots screenshots, ITestOutputHelper output)
    {
        _driver = driver;
        Who = who;
        Name = name;
        _screenshots = screenshots;
        _output = output;
    }

    /// <summary>Whose page it is, for screenshot names.</summary>
    public string Who { get; }

    /// <summary>The page's name in the driver, unique in the run.</summary>
    public string Name { get; }

    public static async Task<ChatPage> OpenAsync(BrowserDriver driver, Uri url, string who, Screenshots screenshots, ITestOutputHelper output)
    {
        var page = new ChatPage(driver, who, $"{who}-{Interlocked.Increment(ref s_counter)}", screenshots, output);
        await page.SendAsync("open", new { url = url.ToString() });
        return page;
    }

    /// <summary>Enters a nickname and waits for the chat screen (the page then joins the lobby).</summary>
    public async Task SignInAsync(string nickname)
    {
        await SendAsync("fill", new { selector = "#nickname", value = nickname });
        await SendAsync("press", new { selector = "#nickname", key = "Enter" });
        await SendAsync("waitFor", new { selector = "#chat" });
        await WaitForMembersContainAsync(nickname);
    }

    /// <summary>Types a nickname that the server refuses, and waits for the error under the field.</summary>
    public async Task SignInRefusedAsync(string nickname, string error)
    {
        await SendAsync("fill", new { selector = "#nickname", value = nickname });
        await SendAsync("press", new { selector = "#nickname", key = "Enter" });
        await SendAsync("waitFor", new { selector = "#login-error", hasText = error });
    }

    /// <summary>Types a message and presses Enter.</summary>
    public async Task SendAsync(string text)
    {
        await SendAsync("fill", new { selector = "#message", value = text });
        await SendAsync("press", new { selector = "#message", key = "Enter" });
    }

    /// <summary>Types in the composer without sending.</summary>
    public Task TypeAsync(string text) => SendAsync("fill", new { selector = "#message", value = text });

    /// <summary>Joins or creates a room with the sidebar's field.</summary>
    public async Task EnterRoomAsync(string room)
    {
        await SendAsync("fill", new { selector = "#new-room", value = room });
        await SendAsync("press", new { selector = "#new-room", key = "Enter" });
        await WaitUntilAsync($"document.querySelector('#room-title').textContent === {Js("#" + room)}");
    }

    /// <summary>Tries to join or create a room with the sidebar's field, and waits for the toast that says why it can't.</summary>
    public async Task EnterRoomRefusedAsync(string room, string error)
    {
        await SendAsync("fill", new { selector = "#new-room", value = room });
        await SendAsync("press", new { selector = "#new-room", key = "Enter" });
        await WaitForToastAsync(error);
    }

    /// <summary>Waits for a message with exactly this author and text.</summary>
    public Task WaitForMessageAsync(string author, string text)
        => WaitUntilAsync($"[...document.querySelectorAll('#messages .message')].some(m => m.querySelector('.author').textContent === {Js(author)} && m.querySelector('.text').textContent === {Js(text)})");

    /// <summary>Waits for a notice line such as "Grace joined".</summary>
    public Task WaitForNoticeAsync(string text)
        => WaitUntilAsync($"[...document.querySelectorAll('#messages .notice')].some(n => n.textContent === {Js(text)})");

    /// <summary>Waits until the members panel lists exactly these nicknames, in this order.</summary>
    public Task WaitForMembersAsync(params string[] names)
        => WaitUntilAsync($"JSON.stringify([...document.querySelectorAll('#members .name')].map(n => n.textContent)) === {Js(JsonSerializer.Serialize(names))}");

    private Task WaitForMembersContainAsync(string name)
        => WaitUntilAsync($"[...document.querySelectorAll('#members .name')].some(n => n.textContent === {Js(name)})");

    /// <summary>Waits until the room list shows this count next to the room.</summary>
    public Task WaitForRoomCountAsync(string room, int count)
        => WaitUntilAsync($"document.querySelector({Js($"#rooms [data-room=\"{room}\"] .count")})?.textContent === {Js(count.ToString(CultureInfo.InvariantCulture))}");

    /// <summary>Waits for the connection badge: connecting, connected, reconnecting or disconnected.</summary>
    public Task WaitForStateAsync(string state, TimeSpan? timeout = null)
        => SendAsync("waitFor", new { selector = $"#state[data-state=\"{state}\"]" }, timeout);

    public Task WaitForTypingAsync(string text) => SendAsync("waitFor", new { selector = "#typing", hasText = text });

    public Task WaitForToastAsync(string text) => SendAsync("waitFor", new { selector = "#toasts .toast", hasText = text });

    /// <summary>Waits until a JavaScript expression is truthy in the page.</summary>
    public Task WaitUntilAsync(string expression, TimeSpan? timeout = null) => SendAsync("waitForFunction", new { expression }, timeout);

    public async Task<T> EvaluateAsync<T>(string expression)
        => (await SendAsync("evaluate", new { expression })).Deserialize<T>(JsonSerializerOptions.Web)!;

    /// <summary>Saves a screenshot of the page as the next numbered step of the test.</summary>
    public async Task ScreenshotAsync(string step)
    {
        var path = _screenshots.Next($"{Who}-{step}");
        await SendAsync("screenshot", new { path });
        _output.WriteLine($"screenshot: {path}");
    }

    /// <summary>A JavaScript (JSON) string literal.</summary>
    public static string Js(string value) => JsonSerializer.Serialize(value);

    private async Task<JsonElement> SendAsync(string command, object arguments, TimeSpan? timeout = null)
    {
        var wait = timeout ?? Wait;
        var withPage = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(arguments, JsonSerializerOptions.Web))!.AsObject();
        withPage["page"] = Name;
        withPage["timeout"] = wait.TotalMilliseconds;
        try
        {
            return await _driver.SendAsync(command, withPage, wait);
        }
        catch (BrowserCommandException e)
        {
            // Keep what the page looked like when it failed, and what it logged.
            var failure = _screenshots.Next($"{Who}-FAILED-{command}");
            var log = "";
            try
            {
                await _driver.SendAsync("screenshot", new { page = Name, path = failure }, Wait);
                log = string.Join('\n', (await _driver.SendAsync("log", new { page = Name }, Wait)).EnumerateArray().Select(l => l.GetString()));
            }
            catch (BrowserCommandException)
            {
            }

            throw new BrowserCommandException($"{command} on page {Name} failed: {e.Message}\nScreenshot: {failure}\nPage log:\n{log}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _driver.SendAsync("close", new { page = Name }, Wait);
        }
        catch (BrowserCommandException)
        {
        }
    }
}

/// <summary>Numbered screenshot paths in one test's folder: 01-…, 02-…</summary>
internal sealed class Screenshots(string test)
{
    private readonly string _directory = Paths.Screenshots(test);
    private int _step;

    public string Directory => _directory;

    public string Next(string name)
        => Path.Combine(_directory, $"{Interlocked.Increment(ref _step):00}-{name}.png");
}
