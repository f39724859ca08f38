(* Loaded by the OCaml kernel into Debian's toplevel with [ocaml -init]: the
   protocol between the kernel (Python) and the toplevel.

   Why not the plain interactive loop on stdin: the toplevel drops what
   follows [;;] on the same line, prints its answers, its errors, its warnings
   and the program's output all on stdout, and reads the program's
   [read_line] from the same stdin as the phrases.  So the loop here reads the
   kernel's commands from their own pipe (its file descriptor number is in
   CAPYTALE_OCAML_COMMAND_FD), the program's stdin is /dev/null, and each cell
   is written by the kernel to a file that [Toploop.use_file] runs phrase by
   phrase, exactly as [#use] would.  The answers ([val x : int = 1]) and the
   error of the cell are caught in buffers and sent after the cell, framed:

     stdout:  <BEGIN> program output, warnings <END> status len len \n answers error
     stderr:  <BEGIN> program errors <END>

   where BEGIN and END are made of the kernel's token (CAPYTALE_OCAML_TOKEN),
   so that nothing a program prints can end a cell by accident.  Only
   [Toploop] is reachable from the toplevel (the compiler's other modules are
   expunged from the [ocaml] binary), hence the hooks used here. *)

#directory "+compiler-libs";;

module Capytale_kernel = struct
  let token = Sys.getenv "CAPYTALE_OCAML_TOKEN"
  let cell_path = Sys.getenv "CAPYTALE_OCAML_CELL"
  let commands = open_in_bin ("/dev/fd/" ^ Sys.getenv "CAPYTALE_OCAML_COMMAND_FD")

  let begin_marker = "\002" ^ token ^ "\002"
  let end_marker = "\003" ^ token ^ "\003"

  (* An interrupt that comes while the toplevel waits for a command is for a
     cell that has already finished: it is dropped rather than left to break
     the reading of the next command half-way. *)
  let rec read_command_char () =
    try input_char commands with Sys.Break -> read_command_char ()

  (* The toplevel's own line reader, on the command pipe instead of stdin. *)
  let read_command _prompt buffer length =
    let rec fill count =
      if count >= length then (count, false)
      else
        match read_command_char () with
        | exception End_of_file -> (count, true)
        | c ->
            Bytes.set buffer count c;
            if c = '\n' then (count + 1, false) else fill (count + 1)
    in
    fill 0

  (* Once the cell is over, a late interrupt must not break the reply: SIGINT
     is ignored until the reply is written.  [Sys.set_signal] runs the signals
     already pending, so it may itself raise [Sys.Break]: try again. *)
  let rec ignore_interrupts () =
    try Sys.set_signal Sys.sigint Sys.Signal_ignore
    with Sys.Break -> ignore_interrupts ()

  let flush_program_output () =
    Format.pp_print_flush Format.std_formatter ();
    Format.pp_print_flush Format.err_formatter ();
    flush stdout;
    flush stderr

  let reply succeeded answers error =
    flush_program_output ();
    prerr_string end_marker;
    flush stderr;
    Printf.printf "%s%s %d %d\n%s%s%!" end_marker
      (if succeeded then "ok" else "error")
      (String.length answers) (String.length error) answers error

  let run () =
    let answers = Buffer.create 1024 and error = Buffer.create 1024 in
    let answers_ppf = Format.formatter_of_buffer answers
    and error_ppf = Format.formatter_of_buffer error in
    let print_phrase = !Toploop.print_out_phrase in
    Toploop.print_out_phrase :=
      (fun _ppf phrase ->
        match phrase with
        | Outcometree.Ophr_exception _ -> print_phrase error_ppf phrase
        | Outcometree.Ophr_eval _ | Outcometree.Ophr_signature _ ->
            print_phrase answers_ppf phrase);
    let succeeded =
      try
        print_string begin_marker;
        prerr_string begin_marker;
        flush stdout;
        flush stderr;
        let succeeded = Toploop.use_file error_ppf cell_path in
        ignore_interrupts ();
        succeeded
      with Sys.Break ->
        ignore_interrupts ();
        Format.fprintf error_ppf "Interrupted.@.";
        false
    in
    Toploop.print_out_phrase := print_phrase;
    Format.pp_print_flush answers_ppf ();
    Format.pp_print_flush error_ppf ();
    reply succeeded (Buffer.contents answers) (Buffer.contents error);
    Sys.catch_break true

  (* Said once at start, so that the kernel knows the toplevel is ready. *)
  let hello () =
    print_string begin_marker;
    prerr_string begin_marker;
    reply true Sys.ocaml_version ""
end;;

Toploop.read_interactive_input := Capytale_kernel.read_command;;
#remove_directory "+compiler-libs";;
