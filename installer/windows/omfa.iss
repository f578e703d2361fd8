; Inno Setup 6 script of the OMFA Desktop installer for Windows (x64). Recipe: installer/windows/BUILD.md.
;
;   iscc /DAppVersion=0.1.0 installer\windows\omfa.iss
;
; Packs the PyInstaller onedir bundle dist\omfa-desktop\ (installer/omfa.spec) into
; dist\omfa-desktop-<version>-windows-x64-setup.exe plus, because a bundle with a CUDA torch is over 2 GB,
; the slices setup-1.bin, setup-2.bin, ... beside it (DiskSpanning): ship the .exe and every .bin together.
; Per-user install by default (no administrator rights); the first page offers "all users" instead.
; Uninstall removes the program folder; the user's gallery, wardrobe, settings and logs
; (%LOCALAPPDATA%\OMFA Desktop) are kept.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "OMFA Desktop"
#define BundleDir "..\..\dist\omfa-desktop"
#define GuiExe "omfa-desktop.exe"
#define CliExe "omfa.exe"

[Setup]
AppId={{B6AD5F85-C8B5-46EF-9195-751D1FE33776}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=OMFA Desktop project
AppComments=Virtual try-on and try-off in any pose with one model
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; per-user by default; "all users" (administrator) on the first page or with /ALLUSERS
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=omfa-desktop-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\omfa-desktop.ico
UninstallDisplayIcon={app}\{#GuiExe}
UninstallDisplayName={#AppName} {#AppVersion}
LicenseFile={#BundleDir}\LICENSES\README.txt
WizardStyle=modern
; a CUDA torch makes the bundle 4-5 GB: split the setup into slices of at most 2 GB (Inno's largest)
DiskSpanning=yes
DiskSliceSize=max
SlicesPerDisk=1
Compression=lzma2/normal
SolidCompression=no
LZMAUseSeparateProcess=yes
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
; the whole onedir: omfa-desktop.exe (window), omfa.exe (command line, --self-test), _internal\, LICENSES\
Source: "{#BundleDir}\{#GuiExe}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\{#CliExe}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\LICENSES\*"; DestDir: "{app}\LICENSES"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#BundleDir}\_internal\*"; DestDir: "{app}\_internal"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#GuiExe}"; WorkingDir: "{userdocs}"
Name: "{autoprograms}\{#AppName} self-test"; Filename: "{cmd}"; Parameters: "/k """"{app}\{#CliExe}"" --self-test --verbose"""; WorkingDir: "{userdocs}"
Name: "{autoprograms}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#GuiExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#GuiExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Python may write bytecode caches next to the sources shipped as .py (torch, diffusers)
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
