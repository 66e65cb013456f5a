using System.Reflection;

namespace ChatApp.Tests.Infrastructure;

/// <summary>Where things are: the repository, the built ChatApp, the browser driver, the screenshots.</summary>
internal static class Paths
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string ChatAppProject => Path.Combine(RepositoryRoot, "samples", "ChatApp");

    /// <summary>ChatApp.dll, built with the same configuration as these tests (the project reference builds it first).</summary>
    public static string ChatAppDll
    {
        get
        {
            var configuration = typeof(Paths).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var dll = Path.Combine(ChatAppProject, "bin", configuration, "net10.0", "ChatApp.dll");
            return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build the solution first (dotnet build WebSockets.sln -c {configuration}).");
        }
    }

    /// <summary>The node package that drives Chromium (playwright-core).</summary>
    public static string BrowserDirectory => Path.Combine(RepositoryRoot, "tests", "ChatApp.Tests", "browser");

    /// <summary>The screenshots of one test, in the test output folder.</summary>
    public static string Screenshots(string test)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "screenshots", test);
        Directory.CreateDirectory(directory);
        return directory;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "WebSockets.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"WebSockets.sln was not found above {AppContext.BaseDirectory}.");
    }
}
