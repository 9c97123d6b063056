using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Grpc.Net.Client;

namespace Mixer.Testing;

/// <summary>
/// The real mixs, started as its own process on free loopback ports (it picks them: --port 0
/// --monitoringPort 0, and prints where it listens). Dispose stops it with SIGTERM.
/// </summary>
public sealed partial class MixsProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GrpcChannel? _channel;

    private MixsProcess(Process process) => _process = process;

    /// <summary>"127.0.0.1:PORT" of the gRPC API.</summary>
    public string GrpcAddress { get; private set; } = "";

    /// <summary>"http://127.0.0.1:PORT" of the monitoring endpoint.</summary>
    public string MonitoringUrl { get; private set; } = "";

    /// <summary>Whether the process is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>The process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Everything mixs printed so far (stdout and stderr).</summary>
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

    /// <summary>
    /// Waits until mixs has printed every one of <paramref name="texts"/>. Its log lines are written
    /// by a background logger and read by a background reader, so a line can trail the behaviour
    /// it describes; fails with the whole output after <paramref name="timeout"/> (10 s).
    /// </summary>
    public async Task WaitForOutputAsync(TimeSpan? timeout, params string[] texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var output = Output;
            var missing = Array.FindAll(texts, t => !output.Contains(t, StringComparison.Ordinal));
            if (missing.Length == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"mixs did not print {string.Join(" / ", missing.Select(m => "\"" + m + "\""))} within {limit.TotalSeconds:0} s; it printed:\n{output}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until mixs has printed every one of <paramref name="texts"/> (10 s at most).</summary>
    public Task WaitForOutputAsync(params string[] texts) => WaitForOutputAsync(null, texts);

    /// <summary>A channel to the gRPC API (shared, disposed with the process).</summary>
    public GrpcChannel Channel => _channel ??= GrpcChannel.ForAddress("http://" + GrpcAddress);

    /// <summary>A Mixer client on <see cref="Channel"/>.</summary>
    public Istio.Mixer.V1.Mixer.MixerClient Client => new(Channel);

    /// <summary>Path of mixs.dll next to the test assembly (test projects reference Mixer.Server).</summary>
    public static string MixsDll => Path.Combine(AppContext.BaseDirectory, "mixs.dll");

    /// <summary>Starts mixs with <paramref name="configDir"/> as its fs:// store (if any) and extra flags.</summary>
    public static async Task<MixsProcess> StartAsync(string? configDir = null, params string[] extraArgs)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(MixsDll);
        psi.ArgumentList.Add("server");
        psi.ArgumentList.Add("--port");
        psi.ArgumentList.Add("0");
        psi.ArgumentList.Add("--monitoringPort");
        psi.ArgumentList.Add("0");
        if (configDir is not null)
        {
            psi.ArgumentList.Add("--configStoreURL");
            psi.ArgumentList.Add("fs://" + Path.GetFullPath(configDir));
        }

        foreach (var a in extraArgs)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start mixs");
        var mixs = new MixsProcess(process);
        process.OutputDataReceived += (_, e) => mixs.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => mixs.OnLine(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => mixs._started.TrySetException(new InvalidOperationException($"mixs exited with {SafeExitCode(process)} before serving:\n{mixs.Output}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var line = await mixs._started.Task.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        var m = StartedLine().Match(line);
        mixs.GrpcAddress = m.Groups["grpc"].Value;
        mixs.MonitoringUrl = "http://" + m.Groups["mon"].Value;
        if (configDir is not null)
        {
            // The first generation's summary is logged before the started line is printed, but
            // through the logger's own queue: wait for it so tests can read it from Output.
            await mixs.WaitForOutputAsync(TimeSpan.FromSeconds(30), " serving: ").ConfigureAwait(false);
        }

        return mixs;
    }

    /// <summary>Sends SIGTERM and waits for the process to exit; returns its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        return _process.ExitCode;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        await StopAsync().ConfigureAwait(false);
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

        if (StartedLine().IsMatch(line))
        {
            _started.TrySetResult(line);
        }
    }

    private static string SafeExitCode(Process p)
    {
        try
        {
            return p.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"serving gRPC on (?<grpc>[^,\s]+)[^,]*, monitoring on (?<mon>[^,\s]+)")]
    private static partial System.Text.RegularExpressions.Regex StartedLine();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
