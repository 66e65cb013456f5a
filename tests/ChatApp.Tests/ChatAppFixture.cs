using ChatApp.Tests.Infrastructure;

namespace ChatApp.Tests;

/// <summary>One ChatApp process shared by the tests of a class; each test uses rooms of its own.</summary>
public sealed class ChatAppFixture : IAsyncLifetime
{
    private ChatAppServer? _server;

    internal ChatAppServer Server => _server ?? throw new InvalidOperationException("The app has not started.");

    public async Task InitializeAsync() => _server = await ChatAppServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
