using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatApp.Tests.Infrastructure;

/// <summary>
/// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core through browser/driver.mjs: one JSON
/// command per line in, one JSON answer per line out. Installs chromium and playwright-core first when missing.
/// </summary>
internal sealed class BrowserDriver : IAsyncDisposable
{
    private readonly ChildProcess _node;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private int _nextId;

    private BrowserDriver(ChildProcess node)
    {
        _node = node;
        _node.Line += OnLine;
    }

    /// <summary>The version of Chromium.</summary>
    public string Version { get; private set; } = "";

    public static async Task<BrowserDriver> StartAsync()
    {
        await Prerequisites.EnsureChromiumAsync();
        await Prerequisites.EnsurePlaywrightAsync();
        var node = ChildProcess.Start("node", ["driver.mjs"], Paths.BrowserDirectory, new Dictionary<string, string> { ["CHROMIUM_PATH"] = Prerequisites.Chromium });
        var driver = new BrowserDriver(node);
        var ready = driver._pending.GetOrAdd(0, static _ => new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            var started = await Task.WhenAny(ready.Task, node.WaitForExitAsync(TimeSpan.FromMinutes(2))).WaitAsync(TimeSpan.FromMinutes(2));
            if (started != ready.Task)
            {
                throw new InvalidOperationException($"The browser driver exited before Chromium started. Its output:\n{node.Output}");
            }

            driver.Version = (await ready.Task).GetProperty("version").GetString() ?? "";
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }

        return driver;
    }

    /// <summary>Runs one command of driver.mjs and returns its result; a failed command throws with the driver's message.</summary>
    public async Task<JsonElement> SendAsync(string command, object arguments, TimeSpan timeout)
    {
        var id = Interlocked.Increment(ref _nextId);
        var message = JsonSerializer.SerializeToNode(arguments, JsonSerializerOptions.Web) as JsonObject ?? [];
        message["id"] = id;
        message["cmd"] = command;
        var reply = _pending.GetOrAdd(id, static _ => new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously));

        await _writeLock.WaitAsync();
        try
        {
            await _node.StandardInput.WriteLineAsync(message.ToJsonString());
            await _node.StandardInput.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }

        try
        {
            // The driver applies the command's own timeout; this one only catches a driver that stopped answering.
            return await reply.Task.WaitAsync(timeout + TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The browser driver did not answer '{command}' in time. Its output:\n{_node.Output}");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private void OnLine(string line)
    {
        if (!line.StartsWith("{\"id\":", StringComparison.Ordinal))
        {
            return;
        }

        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        var id = root.GetProperty("id").GetInt32();
        var reply = _pending.GetOrAdd(id, static _ => new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (root.GetProperty("ok").GetBoolean())
        {
            reply.TrySetResult(root.GetProperty("result").Clone());
        }
        else
        {
            reply.TrySetException(new BrowserCommandException(root.GetProperty("error").GetString() ?? "unknown error"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Closing stdin makes the driver close Chromium and exit.
        try
        {
            _node.StandardInput.Close();
            await _node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException)
        {
        }

        await _node.DisposeAsync();
        _writeLock.Dispose();
    }
}

/// <summary>A browser command failed: a wait timed out, an element was missing, …</summary>
internal sealed class BrowserCommandException(string message) : Exception(message);
