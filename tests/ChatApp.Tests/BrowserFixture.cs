using ChatApp.Tests.Infrastructure;

namespace ChatApp.Tests;

/// <summary>One headless Chromium for the browser tests; each page gets a browser context of its own.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private BrowserDriver? _driver;

    internal BrowserDriver Driver => _driver ?? throw new InvalidOperationException("The browser has not started.");

    public async Task InitializeAsync() => _driver = await BrowserDriver.StartAsync();

    public async Task DisposeAsync()
    {
        if (_driver is not null)
        {
            await _driver.DisposeAsync();
        }
    }
}

/// <summary>The browser tests run one after another: each drives several pages and servers on a 2-core machine.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "Browser";
}
