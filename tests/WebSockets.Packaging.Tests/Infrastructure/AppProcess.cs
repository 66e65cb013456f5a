using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace WebSockets.Packaging.Tests.Infrastructure;

/// <summary>A built web app run as a child process on a free loopback port; killed, with its children, on dispose.</summary>
internal sealed class AppProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AppProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>dotnet app.dll --urls http://127.0.0.1:port</c> and waits for Kestrel's "Now listening on".</summary>
    public static async Task<AppProcess> StartAsync(string dll, string workingDirectory)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var process = new Process { StartInfo = Command.CreateStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"], workingDirectory) };
        var app = new AppProcess(process, port);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (app._output)
            {
                app._output.AppendLine(line);
            }

            if (line.Contains("Now listening on", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        Command.Start(process, $"dotnet {dll}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(StartTimeout)) != listening.Task)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException($"{dll} did not start listening within {StartTimeout}. Its output:\n{app.Output}");
        }

        return app;
    }

    /// <summary>Connects, sends one text message, and returns the first message that comes back.</summary>
    public async Task<string> RoundTripAsync(string path, string text, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(path, cancellationToken);
        await SendAsync(socket, text, cancellationToken);
        var reply = await ReceiveAsync(socket, cancellationToken);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cancellationToken);
        return reply;
    }

    public async Task<ClientWebSocket> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{Port}{path}"), cancellationToken);
        return socket;
    }

    public static Task SendAsync(ClientWebSocket socket, string text, CancellationToken cancellationToken)
        => socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    public static async Task<string> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        using var received = new MemoryStream();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            received.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        return Encoding.UTF8.GetString(received.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
        }
        finally
        {
            _process.Dispose();
        }
    }
}
