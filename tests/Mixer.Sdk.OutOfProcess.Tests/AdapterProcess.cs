using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>
/// The sample adapter started as its own process, exactly as the guide runs it (with --port 0 so
/// it picks a free port), found by the line it prints once it listens. Stopped with SIGTERM.
/// </summary>
internal sealed partial class AdapterProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AdapterProcess(Process process) => _process = process;

    /// <summary>Where it listens, as a handler's connection.address says it.</summary>
    public string Address { get; private set; } = string.Empty;

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

    public bool HasExited => _process.HasExited;

    public static async Task<AdapterProcess> StartAsync(string dll, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + dll);
        var adapter = new AdapterProcess(process);
        process.OutputDataReceived += (_, e) => adapter.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => adapter.OnLine(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => adapter._started.TrySetException(new InvalidOperationException($"{dll} exited before serving:\n{adapter.Output}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var line = await adapter._started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        adapter.Address = Serving().Match(line).Groups["address"].Value;
        return adapter;
    }

    /// <summary>Sends SIGTERM and waits for the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (Serving().IsMatch(line))
        {
            _started.TrySetResult(line);
        }
    }

    [GeneratedRegex(@"adapter: serving gRPC on (?<address>\S+)")]
    private static partial Regex Serving();
}
